package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A short end-to-end check, usable from tests and CI: {@code users} (default 4) users for
 * {@code duration} (default 3) seconds, each writing keys of its own through one node and reading
 * each back through the next node with {@code consistency=}{@code readBackConsistency} (default
 * {@code leader}; {@code linearizable} is the strongest the design offers), which must return the
 * value just acknowledged. A write that failed (e.g. 503) is not read back.
 */
public class SmokeSimulation extends Simulation {

  private final LoadSettings settings = LoadSettings.fromSystemProperties(4, 3);
  private final String readBack = System.getProperty("readBackConsistency", "leader").trim();

  private final ScenarioBuilder smoke = scenario("smoke")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings),
          exec(session -> session.set("key", settings.keyPrefix + "smoke-u" + session.userId()
              + "-" + ThreadLocalRandom.current().nextInt(settings.keys)))
          .exitBlockOnFail().on(
              exec(KvLoad.put("smoke put", settings)),
              exec(http("smoke read back (" + readBack + ")")
                  .get("#{nextNode}/kv/#{key}")
                  .queryParam("consistency", readBack)
                  .check(status().is(200))
                  .check(jsonPath("$.value").isEL("#{value}"))))));

  {
    System.out.println(settings.describe(getClass().getSimpleName())
        + " readBackConsistency=" + readBack);
    setUp(smoke.injectOpen(atOnceUsers(settings.users)))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
