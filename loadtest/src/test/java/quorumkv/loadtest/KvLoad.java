package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.during;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.feed;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.gatling.javaapi.http.HttpRequestActionBuilder;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Building blocks shared by the simulations: feeder, requests, protocol, assertions. */
final class KvLoad {

  private static final char[] ALPHABET =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".toCharArray();

  private KvLoad() {}

  /**
   * An endless feeder: each record picks the next node round-robin (over all users, so every
   * node gets the same share of requests), a key at random among {@code keys}, and a fresh value
   * of {@code valueSize} bytes. Session attributes: {@code node} (base URL), {@code nodeName}
   * (node0..), {@code nextNode} and {@code nextNodeName} (the node after it in the list),
   * {@code key}, {@code value}.
   */
  static Iterator<Map<String, Object>> feeder(LoadSettings settings) {
    AtomicLong counter = new AtomicLong();
    String padding = randomText(settings.valueSize);
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return true;
      }

      @Override
      public Map<String, Object> next() {
        long n = counter.getAndIncrement();
        int nodeIndex = (int) (n % settings.nodes.size());
        int key = ThreadLocalRandom.current().nextInt(settings.keys);
        // A distinct value per request (its sequence number first), exactly valueSize bytes.
        String value = (n + "-" + padding).substring(0, settings.valueSize);
        Map<String, Object> record = new HashMap<>();
        int nextIndex = (nodeIndex + 1) % settings.nodes.size();
        record.put("node", settings.nodes.get(nodeIndex));
        record.put("nodeName", LoadSettings.nodeName(nodeIndex));
        record.put("nextNode", settings.nodes.get(nextIndex));
        record.put("nextNodeName", LoadSettings.nodeName(nextIndex));
        record.put("key", settings.keyPrefix + key);
        record.put("value", value);
        return record;
      }
    };
  }

  /** The HTTP protocol: absolute URLs per request, so no base URL; no warm-up request. */
  static HttpProtocolBuilder protocol() {
    return http
        .acceptHeader("application/json")
        .userAgentHeader("quorumkv-loadtest (Gatling)")
        .disableWarmUp()
        .disableCaching();
  }

  /**
   * {@code PUT {node}/kv/{key}[?w=W]} with the value as body; 200 expected and, when W is given,
   * a response whose {@code quorum} is W.
   */
  static HttpRequestActionBuilder put(String requestName, LoadSettings settings) {
    HttpRequestActionBuilder request = http(requestName)
        .put("#{node}/kv/#{key}")
        .header("Content-Type", "text/plain; charset=UTF-8")
        .body(StringBody("#{value}"));
    request = request.check(status().is(200));
    if (settings.w.isPresent()) {
      // The write response names the quorum it waited for: proves ?w= reached the server.
      request = request.queryParam("w", settings.w.getAsInt())
          .check(jsonPath("$.quorum").ofInt().is(settings.w.getAsInt()));
    }
    return request;
  }

  /** {@code GET {node}/kv/{key}[?consistency=C]}; 200 (found) and 404 (no such key) are both OK. */
  static HttpRequestActionBuilder get(String requestName, LoadSettings settings) {
    HttpRequestActionBuilder request = http(requestName).get("#{node}/kv/#{key}");
    if (!settings.consistency.isEmpty()) {
      request = request.queryParam("consistency", settings.consistency);
    }
    return request.check(status().in(200, 404));
  }

  /** A closed loop: for {@code duration} seconds, take the next record and run {@code step}. */
  static ChainBuilder closedLoop(LoadSettings settings, Iterator<Map<String, Object>> feeder,
      ChainBuilder step) {
    return during(Duration.ofSeconds(settings.duration)).on(feed(feeder), step);
  }

  static ChainBuilder closedLoop(LoadSettings settings, Iterator<Map<String, Object>> feeder,
      HttpRequestActionBuilder step) {
    return closedLoop(settings, feeder, exec(step));
  }

  /** Sanity only: a run fails if too many requests failed; latency never fails a run. */
  static Assertion successAssertion(LoadSettings settings) {
    return global().successfulRequests().percent().gte(settings.minSuccessPercent);
  }

  /** A hard stop well after the planned end, so a hung server cannot keep a run going. */
  static Duration maxDuration(LoadSettings settings) {
    return Duration.ofSeconds(settings.duration + 60L);
  }

  private static String randomText(int length) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    char[] chars = new char[length];
    for (int i = 0; i < length; i++) {
      chars[i] = ALPHABET[random.nextInt(ALPHABET.length)];
    }
    return new String(chars);
  }
}
