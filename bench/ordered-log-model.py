#!/usr/bin/env python3
"""The latency floor of the labs' setup for a totally ordered, replicated log.

The labs' theoretical latency for W=3 (5.05 ms for delays uniform in 0.1..10 ms) is the expected
3rd-smallest of five independent delays: right for ONE write on its own. quorumkv replicates a
log: a follower can hold write k durably only once it holds every write before k, and a delayed
link delivers in order (TCP). With many clients, a write's time at a follower is therefore the
running maximum of the delays of the messages before it, not its own delay.

This discrete-event model has none of quorumkv's costs (no HTTP, no CPU, no serialization;
--persist is the only per-message cost): closed-loop clients, one leader, five followers, each
link delaying every message by uniform(MIN, MAX) in FIFO order, a follower persisting one message
at a time, the leader sending everything pending to a follower whenever fewer than --in-flight
messages to it are unanswered, and a write answered once W followers hold it. It prints the
median, p99 and throughput such an ideal implementation would get, i.e. the floor quorumkv's
measured figures should be compared with.

Usage: bench/ordered-log-model.py [--clients 20] [--w 3] [--min 0.1] [--max 10] [--persist 0]
                                  [--in-flight 1,2,4,8] [--writes 20000] [--seed 1]
"""
import argparse
import heapq
import random


def simulate(clients, w, lo, hi, persist, in_flight, writes, seed, followers=5):
    rnd = random.Random(seed)
    events = []  # (time, seq, kind, data)
    seq = 0

    def push(t, kind, data=None):
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, data))

    arrivals = []  # arrival time of write i at the leader
    next_index = [0] * followers  # first write not yet sent to follower f
    unanswered = [0] * followers
    link_free = [0.0] * followers  # FIFO: a message cannot arrive before the one sent before it
    disk_free = [0.0] * followers
    match = [-1] * followers
    committed = -1
    latencies = []

    def send(f, now):
        while unanswered[f] < in_flight and next_index[f] < len(arrivals):
            end = len(arrivals)
            arrive = max(now + lo + rnd.random() * (hi - lo), link_free[f])
            link_free[f] = arrive
            push(arrive, "arrive", (f, end))
            next_index[f] = end
            unanswered[f] += 1

    for _ in range(clients):
        push(rnd.random() * 0.01, "write")
    while events and len(latencies) < writes:
        now, _, kind, data = heapq.heappop(events)
        if kind == "write":
            arrivals.append(now)
            for f in range(followers):
                send(f, now)
        elif kind == "arrive":
            f, end = data
            done = max(now, disk_free[f]) + persist
            disk_free[f] = done
            push(done, "ack", (f, end))
        else:
            f, end = data
            unanswered[f] -= 1
            match[f] = max(match[f], end - 1)
            quorum_index = sorted(match, reverse=True)[w - 1]
            while committed < quorum_index:
                committed += 1
                latencies.append(now - arrivals[committed])
                push(now, "write")
            send(f, now)
    steady = sorted(latencies[len(latencies) // 10:])
    median = steady[len(steady) // 2]
    p99 = steady[int(len(steady) * 0.99)]
    throughput = clients / (sum(steady) / len(steady)) * 1000
    return median, p99, throughput


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--w", type=int, default=3)
    p.add_argument("--min", type=float, default=0.1, help="ms")
    p.add_argument("--max", type=float, default=10.0, help="ms")
    p.add_argument("--persist", type=float, default=0.0, help="ms per follower write to disk")
    p.add_argument("--in-flight", default="1,2,4,8")
    p.add_argument("--writes", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    single = a.min + (a.max - a.min) * a.w / 6
    print(f"one write alone, W={a.w}: expected {a.w}rd of 5 delays = {single:.2f} ms (the labs' figure)")
    for k in [int(x) for x in a.in_flight.split(",")]:
        median, p99, thr = simulate(a.clients, a.w, a.min, a.max, a.persist, k, a.writes, a.seed)
        print(f"ordered log, {a.clients} clients, W={a.w}, persist {a.persist} ms, in-flight {k}: "
              f"median {median:.2f} ms, p99 {p99:.2f} ms, {thr:.0f} writes/s")


if __name__ == "__main__":
    main()
