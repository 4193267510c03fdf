package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * Write throughput: {@code users} concurrent users, each in a closed loop (it sends its next
 * {@code PUT /kv/{key}[?w=W]} as soon as the previous one answered), for {@code duration}
 * seconds, spread round-robin over all nodes. Every write is one request named "put".
 */
public class WriteThroughputSimulation extends Simulation {

  private final LoadSettings settings = LoadSettings.fromSystemProperties(20, 30);

  private final ScenarioBuilder writers = scenario("write throughput")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings), KvLoad.put("put", settings)));

  {
    System.out.println(settings.describe(getClass().getSimpleName()));
    // All users start at once and each stays for the whole run: exactly `users` requests are in
    // flight at any moment (closed model).
    setUp(writers.injectOpen(atOnceUsers(settings.users)))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
