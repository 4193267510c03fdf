package quorumkv.it;

import quorumkv.harness.NodeClient;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;

/**
 * Every write a test sent and how it was answered, for the check at the end: each key whose write
 * was acknowledged (200) must read back its acknowledged write with the highest version. A higher
 * version is allowed only when its value is one this history wrote without an acknowledgement
 * (503, or no answer at all: such a write may have been logged and may still become visible).
 * Every value written is unique, so a value names the write it came from.
 */
final class WriteHistory {
  /** One write: where it was sent, what it asked for, and the answer (status -1: no answer). */
  record Outcome(int node, String key, String value, Integer w, NodeClient.Response response) {
    boolean acknowledged() {
      return response.ok();
    }

    long version() {
      return response.body().path("version").asLong(-1);
    }

    @Override
    public String toString() {
      return "PUT node" + node + " " + key + "=" + value + (w == null ? "" : " w=" + w) + " -> " + response;
    }
  }

  private final NodeClient http;
  private final IntFunction<URI> nodes;
  /** The acknowledged write with the highest version, per key. */
  private final Map<String, Outcome> latestAck = new ConcurrentHashMap<>();
  /** Values written but not acknowledged, per key: they may or may not be visible. */
  private final Map<String, Set<String>> unacknowledged = new ConcurrentHashMap<>();

  WriteHistory(NodeClient http, IntFunction<URI> nodes) {
    this.http = http;
    this.nodes = nodes;
  }

  /** Sends one write to node {@code node} and records its outcome; {@code w == null}: the default quorum. */
  Outcome write(int node, String key, String value, Integer w) {
    Outcome o = new Outcome(node, key, value, w, http.put(nodes.apply(node), key, value, w));
    if (o.acknowledged()) {
      if (!key.equals(o.response().body().path("key").asText()) || o.version() <= 0) {
        throw new AssertionError("an acknowledged write names its key and a version > 0: " + o);
      }
      latestAck.merge(key, o, (a, b) -> a.version() >= b.version() ? a : b);
    } else {
      unacknowledged.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(value);
    }
    return o;
  }

  int acknowledgedKeys() {
    return latestAck.size();
  }

  /**
   * Reads every acknowledged key from {@code node} at {@code consistency} and returns what
   * disagrees with the acknowledged writes (empty: every key reads its latest acknowledged value).
   */
  List<String> disagreements(int node, String consistency) {
    List<String> problems = new ArrayList<>();
    for (Outcome expected : new TreeMap<>(latestAck).values()) {
      NodeClient.Response r = http.get(nodes.apply(node), expected.key(), consistency);
      long version = r.body().path("version").asLong(-1);
      String value = r.body().path("value").asText(null);
      boolean same = r.ok() && version == expected.version() && expected.value().equals(value);
      boolean laterUnacknowledged = r.ok() && version > expected.version()
          && unacknowledged.getOrDefault(expected.key(), Set.of()).contains(value);
      if (!same && !laterUnacknowledged) {
        problems.add("node" + node + " GET " + expected.key() + "?consistency=" + consistency + " -> " + r
            + ", but the latest acknowledged write was " + expected);
      }
    }
    return problems;
  }
}
