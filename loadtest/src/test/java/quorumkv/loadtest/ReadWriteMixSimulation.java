package quorumkv.loadtest;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.randomSwitch;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * A read-mostly mix: each request is a {@code GET /kv/{key}} with probability
 * {@code readPercent} (default 90; 200 and 404 both count as success) and otherwise a
 * {@code PUT /kv/{key}[?w=W]}; closed loop, {@code users} users, all nodes round-robin.
 */
public class ReadWriteMixSimulation extends Simulation {

  private final LoadSettings settings = LoadSettings.fromSystemProperties(20, 30);

  private final ScenarioBuilder mix = scenario("read/write mix")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings),
          randomSwitch().on(
              percent(settings.readPercent).then(exec(KvLoad.get("get", settings))),
              percent(100 - settings.readPercent).then(exec(KvLoad.put("put", settings))))));

  {
    System.out.println(settings.describe(getClass().getSimpleName()));
    setUp(mix.injectOpen(atOnceUsers(settings.users)))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
