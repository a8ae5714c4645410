#!/usr/bin/env python3
"""A gateway on the OFFICIAL EnOS Python device SDK (PyPI `enos-mqtt-sdk-python`) that
obeys the platform's commands the way the SDK's own samples do: it registers handlers for
measure-point set and get and for service invocation, and subscribes to nothing itself (the
SDK never subscribes to command topics: the platform pushes them). It logs its sub-device
inv01 in, so that commands for inv01 reach it over the gateway's connection.

Usage:  python enos_sdk_commands.py PORT [--budget S] [--reconnect] [--post-every S]

Server:  thingbench serve --listen 127.0.0.1:PORT --workspace fixtures
         (or the address `thingbench qualify` prints, with --reconnect and --post-every)

What the device does, as a vendor's application on the SDK would:
- a set applies its values (a value that is not a number: its own code 2001; a point it does
  not have: 2002), a get answers the points' current values, setPowerLimit answers the limit
  it applied. Its mode table knows modes 0 and 1 only: another mode raises in the handler,
  and the SDK answers that by itself (500, sent as the string "500").
- --reconnect: the SDK's own automatic reconnect (off by default, so a lost server ends it),
  and after every connect it logs inv01 in again (the SDK does too).
- --post-every S: posts the gateway's cpuLoad and inv01's Power and temp every S seconds
  (inv01's only while it is logged in on this connection), so a value set shows in the next
  post.

Prints `READY` once connected with inv01 logged in, `CONNECTED n` after each connect and login
(n counts them), then one line per command handled: `GOT set <pk>/<dk> <params as JSON>`,
`GOT get <pk>/<dk> <params as JSON>` or `GOT invoke <pk>/<dk> <service> <params as JSON>`.
It runs until it is killed, or for at most --budget seconds (default 30). Exit code 2 when the
SDK cannot be imported, cannot connect or inv01's login is refused.
"""
import argparse
import json
import os
import sys
import threading
import time
import warnings

# paho-mqtt 2.x warns that the SDK uses the VERSION1 callback API; harmless.
warnings.filterwarnings("ignore", category=DeprecationWarning)

GW_PK, GW_DK, GW_SECRET = "gwPk", "gw01", "gw-secret"
INV_PK, INV01, INV01_SECRET = "invPk", "inv01", "inv01-secret"

lock = threading.Lock()

# The device's measure points, as the set handler applies them and the posts and gets read them.
state_lock = threading.Lock()
points = {
    (GW_PK, GW_DK): {"cpuLoad": 12.5},
    (INV_PK, INV01): {"Power": 1.5, "temp": 21.5},
}
# The points the inverter model posts with a quality.
WITH_QUALITY = {"Power"}
# What setPowerLimit's `mode` input means to this device: another mode is a KeyError, which
# the SDK turns into its own reply 500.
LIMIT_MODES = {0: "off", 1: "limit"}


def out(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def hard_exit(code):
    sys.stdout.flush()
    os._exit(code)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--reconnect", action="store_true")
    parser.add_argument("--post-every", type=float, default=0.0)
    try:
        args = parser.parse_args()
    except SystemExit:
        hard_exit(2)

    def watchdog():
        time.sleep(args.budget)
        out("TIMEOUT: ran for %.0f s" % args.budget)
        hard_exit(1)

    threading.Thread(target=watchdog, daemon=True).start()

    try:
        from enos.core.MqttClient import MqttClient
        from enos.message.downstream.tsl.MeasurepointGetCommand import MeasurepointGetCommand
        from enos.message.downstream.tsl.MeasurepointGetReply import MeasurepointGetReply
        from enos.message.downstream.tsl.MeasurepointSetCommand import MeasurepointSetCommand
        from enos.message.downstream.tsl.MeasurepointSetReply import MeasurepointSetReply
        from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
        from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply
        from enos.message.upstream.status.SubDeviceLoginRequest import SubDeviceLoginRequest
        from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest
    except Exception as e:
        out("ERROR: cannot import the EnOS Python SDK (enos-mqtt-sdk-python): %r" % (e,))
        hard_exit(2)

    def on_set(arrived_message, arg_list):
        params = arrived_message.get_params()
        out("GOT set %s/%s %s" % (arg_list[0], arg_list[1], json.dumps(params, sort_keys=True)))
        with state_lock:
            mine = points.get((arg_list[0], arg_list[1]), {})
            unknown = [key for key in params if key not in mine]
            if unknown:
                return MeasurepointSetReply.builder().set_code(2002) \
                    .set_message("no such point: %s" % ", ".join(unknown)).build()
            wrong = [key for key, value in params.items() if not is_number(value)]
            if wrong:
                return MeasurepointSetReply.builder().set_code(2001) \
                    .set_message("not a number: %s" % ", ".join(wrong)).build()
            mine.update(params)
        # The SDK answers a set with "data": null.
        return MeasurepointSetReply.builder().set_code(200).build()

    def on_get(arrived_message, arg_list):
        params = arrived_message.get_params()
        out("GOT get %s/%s %s" % (arg_list[0], arg_list[1], json.dumps(params, sort_keys=True)))
        with state_lock:
            mine = points.get((arg_list[0], arg_list[1]), {})
            unknown = [key for key in params if key not in mine]
            if unknown:
                return MeasurepointGetReply.builder().set_code(2002) \
                    .set_message("no such point: %s" % ", ".join(unknown)).build()
            values = {key: mine[key] for key in params}
        return MeasurepointGetReply.builder().set_measureponits(values).set_code(200).build()

    def on_invoke(arrived_message, arg_list):
        params = arrived_message.get_params()
        out("GOT invoke %s/%s %s %s" % (arg_list[0], arg_list[1], arg_list[2],
                                        json.dumps(params, sort_keys=True)))
        if arg_list[2] != "setPowerLimit":
            return ServiceInvocationReply.builder().set_code(2001) \
                .set_message("unknown service %s" % arg_list[2]).build()
        mode = LIMIT_MODES[params.get("mode")]  # another mode raises: the SDK answers 500
        return ServiceInvocationReply.builder() \
            .add_output_data("applied", params.get("limit") if mode == "limit" else 0.0) \
            .set_code(200).build()

    client = MqttClient("tcp://127.0.0.1:%d" % args.port, GW_PK, GW_DK, GW_SECRET)
    profile = client.get_profile()
    profile.set_auto_reconnect(args.reconnect)
    profile.set_operation_timeout(5)
    client.register_arrived_message_handler(MeasurepointSetCommand.get_class(), on_set)
    client.register_arrived_message_handler(MeasurepointGetCommand.get_class(), on_get)
    client.register_arrived_message_handler(ServiceInvocationCommand.get_class(), on_invoke)

    # inv01 is posted for only while it is logged in on the current connection. The SDK calls
    # no callback on an unexpected disconnect, so a failed post clears this too.
    inv_online = threading.Event()
    ready = threading.Event()
    connects = [0]

    def log_in():
        login = SubDeviceLoginRequest.builder() \
            .set_sub_device_info(INV_PK, INV01, INV01_SECRET).build()
        try:
            response = client.publish(login)
            code = response.get_code() if response is not None else None
        except Exception as e:
            code = "none (%s)" % e
        if str(code) != "200":
            out("ERROR: inv01's login was answered %s" % code)
            if not ready.is_set():
                hard_exit(2)
            return
        inv_online.set()
        connects[0] += 1
        out("CONNECTED %d" % connects[0])
        ready.set()

    class ConnectCallback(object):
        # Runs on the SDK's executor after every CONNACK, the first and each reconnect.
        def on_connect(self):
            inv_online.clear()
            log_in()

        def on_disconnect(self):
            inv_online.clear()

        def on_connect_failed(self):
            pass

    # The SDK's synchronous connect() waits out its whole timeout against a local broker (a
    # lost wakeup, see enos_sdk_client.py): connect asynchronously and wait on our own event.
    try:
        client.connect(ConnectCallback())
    except Exception as e:
        out("ERROR: could not connect: %s" % e)
        hard_exit(2)
    if not ready.wait(10):
        out("ERROR: not connected with inv01 logged in within 10 s")
        hard_exit(2)
    out("READY")

    if args.post_every <= 0:
        while True:
            time.sleep(1)

    profile.set_operation_timeout(max(1.0, 2 * args.post_every))

    def post(pk, dk):
        with state_lock:
            values = dict(points[(pk, dk)])
        # The model gives inv01's Power a quality: posted as {value, quality} (0: good).
        for point in WITH_QUALITY.intersection(values) if pk == INV_PK else ():
            values[point] = {"value": values[point], "quality": 0}
        request = MeasurepointPostRequest.builder().set_product_key(pk).set_device_key(dk) \
            .add_measurepoints(values).set_timestamp(int(time.time() * 1000)).build()
        client.publish(request)

    next_post = time.monotonic()
    while True:
        connection = connects[0]
        try:
            post(GW_PK, GW_DK)
            if inv_online.is_set():
                post(INV_PK, INV01)
        except Exception:
            # Offline, or no reply: inv01 waits for its next login, unless that came while
            # this post waited.
            if connects[0] == connection:
                inv_online.clear()
        # On the period's grid; after a post that waited out its timeout, from now.
        next_post = max(next_post + args.post_every, time.monotonic())
        time.sleep(max(0.0, next_post - time.monotonic()))


if __name__ == "__main__":
    main()
