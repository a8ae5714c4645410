#!/usr/bin/env python3
"""A gateway on the OFFICIAL EnOS Python device SDK (PyPI `enos-mqtt-sdk-python`) that
obeys the platform's commands the way the SDK's own samples do: it registers a handler for
measure-point set and one for service invocation, and subscribes to nothing itself (the
SDK never subscribes to command topics: the platform pushes them). It logs its sub-device
inv01 in, so that commands for inv01 reach it over the gateway's connection.

Usage:  python enos_sdk_commands.py PORT

Server:  thingbench serve --listen 127.0.0.1:PORT --workspace fixtures

Prints `READY` once connected with inv01 logged in, then one line per command handled:
`GOT set <pk>/<dk> <params as JSON>` or `GOT invoke <pk>/<dk> <service> <params as JSON>`.
It runs until it is killed, or for at most 30 s. Exit code 2 when the SDK cannot be imported,
cannot connect or inv01's login is refused.
"""
import json
import os
import sys
import threading
import time
import warnings

# paho-mqtt 2.x warns that the SDK uses the VERSION1 callback API; harmless.
warnings.filterwarnings("ignore", category=DeprecationWarning)

BUDGET_S = 30.0
GW_PK, GW_DK, GW_SECRET = "gwPk", "gw01", "gw-secret"
INV_PK, INV01, INV01_SECRET = "invPk", "inv01", "inv01-secret"

lock = threading.Lock()


def out(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def hard_exit(code):
    sys.stdout.flush()
    os._exit(code)


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        out("usage: enos_sdk_commands.py PORT")
        hard_exit(2)
    port = int(sys.argv[1])

    def watchdog():
        time.sleep(BUDGET_S)
        out("TIMEOUT: ran for %.0f s" % BUDGET_S)
        hard_exit(1)

    threading.Thread(target=watchdog, daemon=True).start()

    try:
        from enos.core.MqttClient import MqttClient
        from enos.message.downstream.tsl.MeasurepointSetCommand import MeasurepointSetCommand
        from enos.message.downstream.tsl.MeasurepointSetReply import MeasurepointSetReply
        from enos.message.downstream.tsl.ServiceInvocationCommand import ServiceInvocationCommand
        from enos.message.downstream.tsl.ServiceInvocationReply import ServiceInvocationReply
        from enos.message.upstream.status.SubDeviceLoginRequest import SubDeviceLoginRequest
    except Exception as e:
        out("ERROR: cannot import the EnOS Python SDK (enos-mqtt-sdk-python): %r" % (e,))
        hard_exit(2)

    def on_set(arrived_message, arg_list):
        out("GOT set %s/%s %s" % (arg_list[0], arg_list[1],
                                  json.dumps(arrived_message.get_params(), sort_keys=True)))
        # The SDK answers a set with "data": null.
        return MeasurepointSetReply.builder().set_code(200).build()

    def on_invoke(arrived_message, arg_list):
        params = arrived_message.get_params()
        out("GOT invoke %s/%s %s %s" % (arg_list[0], arg_list[1], arg_list[2],
                                        json.dumps(params, sort_keys=True)))
        if arg_list[2] != "setPowerLimit":
            return ServiceInvocationReply.builder().set_code(2001) \
                .set_message("unknown service %s" % arg_list[2]).build()
        return ServiceInvocationReply.builder() \
            .add_output_data("applied", params.get("limit")) \
            .set_code(200).build()

    client = MqttClient("tcp://127.0.0.1:%d" % port, GW_PK, GW_DK, GW_SECRET)
    profile = client.get_profile()
    profile.set_auto_reconnect(False)
    profile.set_operation_timeout(5)
    client.register_arrived_message_handler(MeasurepointSetCommand.get_class(), on_set)
    client.register_arrived_message_handler(ServiceInvocationCommand.get_class(), on_invoke)

    # The SDK's synchronous connect() waits out its whole timeout against a local broker (a
    # lost wakeup, see enos_sdk_client.py): connect asynchronously and wait on our own event.
    connected = threading.Event()

    class ConnectCallback(object):
        def on_connect(self):
            connected.set()

        def on_disconnect(self):
            pass

        def on_connect_failed(self):
            pass

    try:
        client.connect(ConnectCallback())
    except Exception as e:
        out("ERROR: could not connect: %s" % e)
        hard_exit(2)
    if not connected.wait(5):
        out("ERROR: no successful CONNACK within 5 s")
        hard_exit(2)

    login = SubDeviceLoginRequest.builder().set_sub_device_info(INV_PK, INV01, INV01_SECRET).build()
    try:
        response = client.publish(login)
        code = response.get_code() if response is not None else None
    except Exception as e:
        code = "none (%s)" % e
    if str(code) != "200":
        out("ERROR: inv01's login was answered %s" % code)
        hard_exit(2)

    out("READY")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
