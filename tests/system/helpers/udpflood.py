"""udpflood.py - a fast UDP query flood from one source address, for the rate-limiting
system test (test_abuse_rrl.py). dnspython is far too slow to flood; this sends one
pre-built query (a fresh ID each time) with plain sendto() at a set pace and reads the
answers as they come, without parsing more than the header.

    /usr/bin/python3 udpflood.py SRC PORT COUNT SECONDS QUERY_HEX

prints one JSON object: sent, answers (rcode and TC clear of records? no: TC=0), tc
(TC=1 answers), other, and per-answer arrival times relative to the start (normal ones
and TC ones), so the caller can check the rate against time."""

import json
import select
import socket
import sys
import time


def main():
    src, port, count, seconds, qhex = sys.argv[1:6]
    port, count, seconds = int(port), int(count), float(seconds)
    query = bytearray(bytes.fromhex(qhex))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    normal, tc, other = [], [], 0
    sent = 0
    t0 = time.monotonic()

    def drain():
        nonlocal other
        while True:
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            t = time.monotonic() - t0
            if len(data) < 12 or not data[2] & 0x80:
                other += 1
            elif data[2] & 0x02:
                tc.append(t)
            elif data[3] & 0x0F == 0 and (data[6] << 8 | data[7]) > 0:
                normal.append(t)
            else:
                other += 1

    per_ms = count / (seconds * 1000.0)
    while sent < count:
        # Keep to the pace: as many as are due by now, in small bursts.
        due = min(count, int((time.monotonic() - t0) * 1000.0 * per_ms) + 1)
        while sent < due:
            query[0] = (sent >> 8) & 0xFF
            query[1] = sent & 0xFF
            try:
                s.send(query)
                sent += 1
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                pass
        drain()
        if sent < count:
            select.select([s], [], [], 0.0005)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        select.select([s], [], [], 0.05)
        drain()
    print(json.dumps({"sent": sent, "answers": len(normal), "tc": len(tc), "other": other,
                      "duration": time.monotonic() - t0 - 1.0, "normal_times": normal,
                      "tc_times": tc}))


if __name__ == "__main__":
    main()
