package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * Writes spread evenly over every node, each node's writes under its own request name
 * ("put via node0" ... "put via node5", by position in {@code -Dnodes}), so Gatling's report
 * shows each entry node's latency side by side: writes to a follower are forwarded to the
 * leader, writes to the leader's node are not.
 */
public class SpreadWritesSimulation extends Simulation {

  private final LoadSettings settings = LoadSettings.fromSystemProperties(20, 30);

  private final ScenarioBuilder writers = scenario("spread writes")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings),
          KvLoad.put("put via #{nodeName}", settings)));

  {
    System.out.println(settings.describe(getClass().getSimpleName()));
    setUp(writers.injectOpen(atOnceUsers(settings.users)))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
