package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.SerializationTestKit;
import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.ClassRule;
import org.junit.Test;

/**
 * The forwarder groups writes into one batch for the leader and hands each grouped answer to the
 * request it belongs to; the answers survive the trip through Jackson CBOR (they are polymorphic).
 */
public class WriteForwarderTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource(
      "akka.actor.provider = local\n"
          + "akka.actor.serialization-bindings { \"quorumkv.CborSerializable\" = jackson-cbor }");

  @Test
  public void writesThatArriveTogetherGoToTheLeaderAsOneBatch() throws Exception {
    TestProbe<LeaderActor.Command> leader = testKit.createTestProbe();
    // The forwarder is busy (suspended in a burst): everything sent before its Flush is one group.
    ActorRef<WriteForwarder.Command> forwarder =
        testKit.spawn(WriteForwarder.create(leader.ref(), Duration.ofSeconds(5), 1000, 1L << 20));
    List<CompletableFuture<WriteResult>> clients = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      CompletableFuture<WriteResult> client = new CompletableFuture<>();
      clients.add(client);
      forwarder.tell(new WriteForwarder.Forward("k" + i, "v" + i, 3, 2000, client));
    }
    List<LeaderActor.ForwardedWrite> forwarded = new ArrayList<>();
    ActorRef<WriteForwarder.Results> replyTo = null;
    while (forwarded.size() < 20) {
      LeaderActor.WriteBatch batch = leader.expectMessageClass(LeaderActor.WriteBatch.class);
      forwarded.addAll(batch.writes());
      replyTo = batch.replyTo();
    }
    assertEquals(20, forwarded.size());
    for (int i = 0; i < 20; i++) {
      assertEquals("k" + i, forwarded.get(i).key());
      assertEquals("v" + i, forwarded.get(i).value());
      assertEquals(3, forwarded.get(i).writeQuorum());
      assertEquals(2000, forwarded.get(i).timeoutMillis());
    }

    // Answers come back grouped and in any order; each goes to its own client.
    List<WriteForwarder.Result> answers = new ArrayList<>();
    for (int i = 19; i >= 0; i--) {
      answers.add(new WriteForwarder.Result(forwarded.get(i).id(), new WriteResult.Written("k" + i, 100 + i, 3, 3, "node0")));
    }
    replyTo.tell(new WriteForwarder.Results(answers));
    for (int i = 0; i < 20; i++) {
      assertEquals(new WriteResult.Written("k" + i, 100 + i, 3, 3, "node0"), clients.get(i).get(3, TimeUnit.SECONDS));
    }
    // An answer for an id that is no longer awaited (already answered) changes nothing.
    replyTo.tell(new WriteForwarder.Results(List.of(new WriteForwarder.Result(forwarded.get(19).id(),
        new WriteResult.NoLeader("k19", "late", "node0")))));
    forwarder.tell(new WriteForwarder.Forward("k", "v", 3, 2000, new CompletableFuture<>()));
    leader.expectMessageClass(LeaderActor.WriteBatch.class); // the forwarder handled the answer and goes on
    assertEquals(new WriteResult.Written("k19", 119, 3, 3, "node0"), clients.get(19).getNow(null));
  }

  @Test
  public void aWriteWhoseAnswerNeverComesIsAnsweredNoAnswerOnceItsTimeAndTheGraceHavePassed() throws Exception {
    TestProbe<LeaderActor.Command> leader = testKit.createTestProbe();
    ActorRef<WriteForwarder.Command> forwarder =
        testKit.spawn(WriteForwarder.create(leader.ref(), Duration.ofMillis(300), 1000, 1L << 20));
    CompletableFuture<WriteResult> client = new CompletableFuture<>();
    long sent = System.nanoTime();
    forwarder.tell(new WriteForwarder.Forward("k", "v", 3, 200, client));
    leader.expectMessageClass(LeaderActor.WriteBatch.class); // and the leader never answers
    try {
      client.get(5, TimeUnit.SECONDS);
      fail("expected no answer, got one");
    } catch (ExecutionException e) {
      assertTrue(e.getCause().toString(), e.getCause() instanceof WriteForwarder.NoAnswer);
      assertTrue(e.getCause().getMessage(), e.getCause().getMessage().contains("500 ms"));
    }
    assertTrue("not before the write's 200 ms and the 300 ms grace",
        System.nanoTime() - sent >= Duration.ofMillis(500).toNanos());
  }

  @Test
  public void aBurstLargerThanTheBatchLimitGoesOutInSeveralBatches() {
    TestProbe<LeaderActor.Command> leader = testKit.createTestProbe();
    ActorRef<WriteForwarder.Command> forwarder =
        testKit.spawn(WriteForwarder.create(leader.ref(), Duration.ofSeconds(5), 4, 1L << 20));
    for (int i = 0; i < 10; i++) {
      forwarder.tell(new WriteForwarder.Forward("k", "v" + i, -1, 2000, new CompletableFuture<>()));
    }
    int seen = 0;
    while (seen < 10) {
      LeaderActor.WriteBatch batch = leader.expectMessageClass(LeaderActor.WriteBatch.class);
      assertTrue("batch of " + batch.writes().size(), batch.writes().size() <= 4);
      for (LeaderActor.ForwardedWrite w : batch.writes()) {
        assertEquals("v" + seen++, w.value()); // order kept across batches
      }
    }
  }

  @Test
  public void aBurstOfLargeValuesGoesOutInBatchesNoLargerThanTheByteLimit() {
    // A batch is one Artery message: over its 4 MiB frame Artery drops it with every write in it.
    TestProbe<LeaderActor.Command> leader = testKit.createTestProbe();
    long maxBytes = 1L << 20;
    ActorRef<WriteForwarder.Command> forwarder =
        testKit.spawn(WriteForwarder.create(leader.ref(), Duration.ofSeconds(5), 1000, maxBytes));
    String big = "x".repeat(60_000);
    for (int i = 0; i < 100; i++) {
      forwarder.tell(new WriteForwarder.Forward("k" + i, big, -1, 2000, new CompletableFuture<>()));
    }
    int seen = 0;
    int batches = 0;
    while (seen < 100) {
      LeaderActor.WriteBatch batch = leader.expectMessageClass(LeaderActor.WriteBatch.class);
      batches++;
      long chars = batch.writes().stream().mapToLong(w -> w.key().length() + w.value().length()).sum();
      assertTrue("a batch of " + chars + " characters", chars <= maxBytes);
      for (LeaderActor.ForwardedWrite w : batch.writes()) {
        assertEquals("k" + seen++, w.key());
      }
    }
    assertTrue("6 MB of values in batches of at most 1 MiB: " + batches, batches >= 6);
  }

  @Test
  public void groupedAnswersOfEveryKindSurviveSerialization() {
    SerializationTestKit serialization = new SerializationTestKit(testKit.system());
    WriteForwarder.Results results = new WriteForwarder.Results(List.of(
        new WriteForwarder.Result(1, new WriteResult.Written("a", 7, 3, 3, "node0")),
        new WriteForwarder.Result(2, new WriteResult.QuorumNotReached("b", 8, 1, 3, "node0", "timeout")),
        new WriteForwarder.Result(3, new WriteResult.NotEnoughReplicas("c", 2, 3, "node0")),
        new WriteForwarder.Result(4, new WriteResult.NoLeader("d", "electing", "node0")),
        new WriteForwarder.Result(5, new WriteResult.Overloaded("e", 20000, "node0"))));
    serialization.verifySerialization(results, true);
    TestProbe<WriteForwarder.Results> origin = testKit.createTestProbe();
    serialization.verifySerialization(new LeaderActor.WriteBatch(
        List.of(new LeaderActor.ForwardedWrite(1, "k", "v", 2, 500), new LeaderActor.ForwardedWrite(2, "k", null, -1, 500)),
        origin.ref(), false), true);
  }
}
