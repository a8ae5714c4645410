#!/usr/bin/env python3
"""Drive thingbench's embedded broker + reference hub with the OFFICIAL EnOS
Python device SDK (PyPI `enos-mqtt-sdk-python`), the way a real gateway would.

Usage:  python enos_sdk_client.py PORT [-v]

Setup (fresh Debian):
    apt-get install -y python3 python3-venv
    python3 -m venv /tmp/pysdk-work/venv
    /tmp/pysdk-work/venv/bin/pip install enos-mqtt-sdk-python==0.1.1
    # pulls paho-mqtt (>=1.4.0; tested with 2.2.0 and its VERSION1 callback
    # default) and certifi
    /tmp/pysdk-work/venv/bin/python tests/python/enos_sdk_client.py PORT

Server:  target/debug/thingbench serve --listen 127.0.0.1:PORT --workspace fixtures

Prints one line per step, `STEP <x> expected <code> got <code>`, then `ALL OK`.
Exit codes: 0 all matched, 1 a mismatch (or a missing reply), 2 the SDK could
not be imported or could not connect.
"""
import json
import os
import sys
import threading
import time
import warnings

# paho-mqtt 2.x warns that the SDK uses the VERSION1 callback API; harmless.
warnings.filterwarnings("ignore", category=DeprecationWarning)

REPLY_TIMEOUT_S = 5.0      # bound on each reply
CONNECT_TIMEOUT_S = 5      # bound on CONNECT/CONNACK
TOTAL_BUDGET_S = 28.0      # hard bound on the whole run

GW_PK, GW_DK, GW_SECRET = "gwPk", "gw01", "gw-secret"
INV_PK = "invPk"
INV01, INV01_SECRET = "inv01", "inv01-secret"
INV02, INV02_WRONG_SECRET = "inv02", "definitely-not-the-inv02-secret"

VERBOSE = "-v" in sys.argv[2:]


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hard_exit(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        out("usage: enos_sdk_client.py PORT [-v]")
        hard_exit(2)
    port = int(sys.argv[1])
    start = time.monotonic()
    deadline = start + TOTAL_BUDGET_S

    # Watchdog: whatever the SDK does, never run past the budget.
    def watchdog():
        time.sleep(TOTAL_BUDGET_S + 1.0)
        out("TIMEOUT: total runtime budget of %.0f s exceeded" % TOTAL_BUDGET_S)
        hard_exit(1)

    threading.Thread(target=watchdog, daemon=True).start()

    try:
        from enos.core.MqttClient import MqttClient
        from enos.message.upstream.status.SubDeviceLoginRequest import SubDeviceLoginRequest
        from enos.message.upstream.status.SubDeviceLogoutRequest import SubDeviceLogoutRequest
        from enos.message.upstream.tsl.MeasurepointPostBatchRequest import MeasurepointPostBatchRequest
        from enos.message.upstream.tsl.MeasurepointPostRequest import MeasurepointPostRequest
    except Exception as e:  # ImportError, or paho incompatibility at import time
        out("ERROR: cannot import the EnOS Python SDK (enos-mqtt-sdk-python): %r" % (e,))
        hard_exit(2)

    url = "tcp://127.0.0.1:%d" % port
    client = MqttClient(url, GW_PK, GW_DK, GW_SECRET)
    profile = client.get_profile()
    profile.set_auto_reconnect(False)
    profile.set_operation_timeout(REPLY_TIMEOUT_S)

    # The SDK's synchronous connect() has a lost-wakeup race: its paho loop thread
    # can notify the "connected" condition before connect() starts waiting on it,
    # so against a local broker it always sits out the full connect timeout
    # (and logs "connect timeout") although the connection is up. Use the SDK's
    # asynchronous connect with a callback instead and wait on our own event.
    connected_evt = threading.Event()
    failed_evt = threading.Event()

    class ConnectCallback(object):
        def on_connect(self):
            connected_evt.set()

        def on_disconnect(self):
            pass

        def on_connect_failed(self):
            failed_evt.set()

    try:
        client.connect(ConnectCallback())
    except Exception as e:
        out("ERROR: could not connect to %s as %s/%s: %s" % (url, GW_PK, GW_DK, e))
        hard_exit(2)
    t_end = time.monotonic() + CONNECT_TIMEOUT_S
    while not connected_evt.is_set() and not failed_evt.is_set() and time.monotonic() < t_end:
        connected_evt.wait(0.05)
    connected = connected_evt.is_set()
    if not connected:
        out("ERROR: could not connect to %s as %s/%s (no successful CONNACK within %d s)"
            % (url, GW_PK, GW_DK, CONNECT_TIMEOUT_S))
        hard_exit(2)
    if VERBOSE:
        out("connected to %s as %s/%s" % (url, GW_PK, GW_DK))

    # ---- request builders (all via the SDK's own classes) -------------------
    def batch(points):
        # One element for inv01 at one timestamp. The SDK's batch builder copies
        # productKey/deviceKey/measurepoints/time from MeasurepointPostRequest
        # objects; the flags are not set, so the SDK sends
        # "allowOfflineSubDevice": "" and "skipInvalidMeasurepoints": "",
        # which the hub must read as false.
        element = MeasurepointPostRequest.builder() \
            .set_product_key(INV_PK) \
            .set_device_key(INV01) \
            .add_measurepoints(points) \
            .set_timestamp(int(time.time() * 1000)) \
            .build()
        return MeasurepointPostBatchRequest.builder().add_request(element).build()

    def login(pk, dk, secret):
        return SubDeviceLoginRequest.builder().set_sub_device_info(pk, dk, secret).build()

    def logout(pk, dk):
        return SubDeviceLogoutRequest.builder() \
            .set_sub_product_key(pk).set_sub_device_key(dk).build()

    steps = [
        ("a", "post batch for inv01 before login", 1212, lambda: batch({"temp": 21.5})),
        ("b", "login inv01 with the right secret", 200, lambda: login(INV_PK, INV01, INV01_SECRET)),
        ("c", "login inv02 with a wrong secret", 742, lambda: login(INV_PK, INV02, INV02_WRONG_SECRET)),
        ("d", "post batch for inv01 temp=21.5", 200, lambda: batch({"temp": 21.5})),
        ("e", "post batch for inv01 with an unknown point", 1204,
         lambda: batch({"noSuchPoint": 1.0})),
        # Step f is two requests: logout, then a post again.
        ("f", "logout inv01", 200, lambda: logout(INV_PK, INV01)),
        ("f", "post batch for inv01 after logout", 1212, lambda: batch({"temp": 22.0})),
    ]

    all_ok = True
    for letter, what, expected, make in steps:
        remaining = deadline - time.monotonic() - 0.5
        if remaining <= 0.5:
            out("STEP %s expected %d got none (skipped: runtime budget used up)" % (letter, expected))
            all_ok = False
            continue
        profile.set_operation_timeout(min(REPLY_TIMEOUT_S, remaining))
        request = make()
        got = None
        detail = ""
        try:
            response = client.publish(request)  # blocks until the reply or the timeout
            if response is None:
                detail = "no response object"
            else:
                got = response.get_code()
                try:
                    got = int(got)
                except (TypeError, ValueError):
                    pass
                msg = response.get_message()
                if msg:
                    detail = "message: %s" % msg
        except Exception as e:
            detail = "no reply within %.1f s or SDK error: %s" % (profile.get_operation_timeout(), e)
        ok = got == expected
        all_ok = all_ok and ok
        out("STEP %s expected %d got %s" % (letter, expected, "none" if got is None else got))
        if VERBOSE or not ok:
            out("  (%s) topic %s" % (what, request.get_message_topic()))
            try:
                out("  payload sent: %s" % json.dumps(request.get_json_payload(), default=str))
            except Exception:
                pass
            if detail:
                out("  " + detail)

    try:
        client.close()
    except Exception:
        pass

    if all_ok:
        out("ALL OK")
        hard_exit(0)
    out("MISMATCH (%.1f s)" % (time.monotonic() - start))
    hard_exit(1)


if __name__ == "__main__":
    main()
