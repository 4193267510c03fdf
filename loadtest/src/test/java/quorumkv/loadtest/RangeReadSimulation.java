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
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Range reads: first 10 users write {@code rangeKeys} keys (default 1,000) under the prefix
 * {@code <keyPrefix>range/} ("range seed put"), then {@code users} users, each in a closed loop
 * for {@code duration} seconds, read pages of that prefix through round-robin nodes:
 * {@code GET /kv?prefix=..&limit=<pageSize>&after=<random key>[&consistency=C]} (default page
 * size 100), checking 200 and an {@code items} array ("range page").
 */
public class RangeReadSimulation extends Simulation {

  private static final int SEED_USERS = 10;

  private final LoadSettings settings = LoadSettings.fromSystemProperties(20, 30);
  private final int rangeKeys = Integer.getInteger("rangeKeys", 1000);
  private final int pageSize = Integer.getInteger("pageSize", 100);
  private final String prefix = settings.keyPrefix + "range/";

  private final ScenarioBuilder seed = scenario("range seed")
      .repeat(Math.max(1, rangeKeys / SEED_USERS), "i").on(
          exec(session -> session.set("node", settings.nodes.get((int) (session.userId() % settings.nodes.size())))
              // The keys hold a '/': one path segment only when it is encoded (%2F).
              .set("key", URLEncoder.encode(String.format("%s%07d", prefix,
                  (session.userId() - 1) * (rangeKeys / SEED_USERS) + session.getInt("i")), StandardCharsets.UTF_8)))
          .exec(http("range seed put")
              .put("#{node}/kv/#{key}")
              .header("Content-Type", "text/plain; charset=UTF-8")
              .body(StringBody("v-#{i}"))
              .check(status().is(200))));

  private final ScenarioBuilder readers = scenario("range reads")
      .exec(KvLoad.closedLoop(settings, KvLoad.feeder(settings),
          exec(session -> session.set("after",
              String.format("%s%07d", prefix, ThreadLocalRandom.current().nextInt(rangeKeys))))
          .exec(consistency(http("range page")
              .get("#{node}/kv")
              .queryParam("prefix", prefix)
              .queryParam("limit", pageSize)
              .queryParam("after", "#{after}")
              .check(status().is(200))
              .check(jsonPath("$.items").exists())))));

  private io.gatling.javaapi.http.HttpRequestActionBuilder consistency(
      io.gatling.javaapi.http.HttpRequestActionBuilder request) {
    return settings.consistency.isEmpty() ? request : request.queryParam("consistency", settings.consistency);
  }

  {
    System.out.println(settings.describe(getClass().getSimpleName()) + " rangeKeys=" + rangeKeys
        + " pageSize=" + pageSize);
    setUp(seed.injectOpen(atOnceUsers(SEED_USERS)).andThen(readers.injectOpen(atOnceUsers(settings.users))))
        .protocols(KvLoad.protocol())
        .assertions(KvLoad.successAssertion(settings))
        .maxDuration(KvLoad.maxDuration(settings));
  }
}
