package quorumkv.tools.floor;

import static org.junit.Assert.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;
import quorumkv.harness.FileTrees;
import quorumkv.storage.SqliteStore;
import quorumkv.tools.LatencyRecorder;

/**
 * The stack-floor leader's bookkeeping, with probes as followers and its own replica on SQLite: a
 * write counts as committed only once the leader's replica and W followers hold it, each client
 * then writes again, and each follower has one append in flight carrying everything it lacks.
 */
public class FloorLeaderTest {

  private static Path dir;
  private static ActorTestKit testKit;

  @BeforeClass
  public static void start() throws Exception {
    dir = Files.createTempDirectory("floor-leader-test");
    SqliteStore.prepare(dir);
    testKit = ActorTestKit.create("floor", ConfigFactory.parseString("akka.actor.provider = local\nquorumkv.data-dir = \""
        + dir + "\"").withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @AfterClass
  public static void stop() {
    testKit.shutdownTestKit();
    FileTrees.delete(dir);
  }

  private static FloorReplica.Append expectAppend(TestProbe<FloorReplica.Append> follower, long first, int entries) {
    FloorReplica.Append a = follower.receiveMessage(Duration.ofSeconds(30));
    assertEquals("first index", first, a.firstIndex());
    assertEquals("entries", entries, a.entries().size());
    return a;
  }

  private static void ack(FloorReplica.Append a, int replica) {
    a.replyTo().tell(new FloorLeader.Acked(replica, a.firstIndex() + a.entries().size() - 1));
  }

  @Test
  public void aWriteIsCommittedOnlyWithTheQuorumAndItsClientThenWritesAgain() throws Exception {
    TestProbe<FloorReplica.Append> f1 = testKit.createTestProbe();
    TestProbe<FloorReplica.Append> f2 = testKit.createTestProbe();
    ActorRef<FloorLeader.Command> leader = testKit.spawn(FloorLeader.create(List.of(f1.ref(), f2.ref()), 2, 1000, 10));
    LatencyRecorder latencies = new LatencyRecorder();
    leader.tell(new FloorLeader.OpenWindow(latencies));

    leader.tell(new FloorLeader.SetClients(3));
    FloorReplica.Append first1 = expectAppend(f1, 1, 3);
    FloorReplica.Append first2 = expectAppend(f2, 1, 3);
    assertEquals(new FloorReplica.Entry("k1", "v".repeat(10)), first1.entries().get(0));

    ack(first1, 1);
    f1.expectNoMessage(Duration.ofMillis(500)); // W=2: one follower is not enough, so no client writes again
    ack(first2, 2);
    FloorReplica.Append second1 = expectAppend(f1, 4, 3); // three commits, three new writes
    expectAppend(f2, 4, 3);

    leader.tell(new FloorLeader.SetClients(1));
    ack(second1, 1);
    f1.expectNoMessage(Duration.ofMillis(300));

    CompletableFuture<FloorLeader.Window> closed = new CompletableFuture<>();
    leader.tell(new FloorLeader.CloseWindow(closed));
    FloorLeader.Window w = closed.get(30, TimeUnit.SECONDS);
    assertEquals(3, w.committed());
    assertEquals(3, latencies.count());
    assertEquals("appends to followers in the window", 4, w.appends());
    assertEquals(12, w.entriesSent());
  }

  @Test
  public void aSlowFollowerHoldsUpNeitherTheCommitNorTheOthersAppends() {
    TestProbe<FloorReplica.Append> fast = testKit.createTestProbe();
    TestProbe<FloorReplica.Append> slow = testKit.createTestProbe();
    ActorRef<FloorLeader.Command> leader = testKit.spawn(FloorLeader.create(List.of(fast.ref(), slow.ref()), 1, 1000, 10));

    leader.tell(new FloorLeader.SetClients(2));
    ack(expectAppend(fast, 1, 2), 1);
    FloorReplica.Append slowFirst = expectAppend(slow, 1, 2);
    ack(expectAppend(fast, 3, 2), 1); // W=1: committed without the slow one
    expectAppend(fast, 5, 2);
    slow.expectNoMessage(Duration.ofMillis(300)); // one append in flight per follower

    ack(slowFirst, 2);
    expectAppend(slow, 3, 4); // everything it lacks, in one append
  }
}
