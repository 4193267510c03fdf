package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * Compare-and-set contention on one hot key: {@code users} users, each in a closed loop for
 * {@code duration} seconds, increment a counter at key {@code casKey} (default {@code cas-counter})
 * through round-robin nodes: {@code GET ?consistency=leader} for its value and version, then
 * {@code PUT ?ifVersion=<version>} of the value plus one. A 412 (another user won that version)
 * is an expected answer, not an error: the report's "cas put" line gives the latency of both, and
 * the share of 412s is the contention. Request names: "cas read", "cas put".
 */
public class CasContentionSimulation extends Simulation {

  private final LoadSettings settings = LoadSettings.fromSystemProperties(20, 30);
  private final String casKey = System.getProperty("casKey", "cas-counter").trim();

  private final ScenarioBuilder incrementers = scenario("cas contention")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings),
          exec(http("cas read")
              .get("#{node}/kv/" + casKey)
              .queryParam("consistency", "leader")
              .check(status().in(200, 404))
              .check(jsonPath("$.version").ofLong().optional().saveAs("casVersion"))
              .check(jsonPath("$.value").optional().saveAs("casValue")))
          .exitHereIfFailed()
          .exec(session -> {
            long version = session.contains("casVersion") ? session.getLong("casVersion") : 0;
            long value = session.contains("casValue") ? Long.parseLong(session.getString("casValue")) : 0;
            return session.set("ifVersion", version).set("next", Long.toString(value + 1))
                .remove("casVersion").remove("casValue");
          })
          .exec(http("cas put")
              .put("#{node}/kv/" + casKey)
              .queryParam("ifVersion", "#{ifVersion}")
              .header("Content-Type", "text/plain; charset=UTF-8")
              .body(StringBody("#{next}"))
              .check(status().in(200, 412)))));

  {
    System.out.println(settings.describe(getClass().getSimpleName()) + " casKey=" + casKey);
    setUp(incrementers.injectOpen(atOnceUsers(settings.users)))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
