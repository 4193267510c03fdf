package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import quorumkv.node.NodeWiring;
import quorumkv.storage.TxnOpResult;
import quorumkv.storage.WriteCommand;

/**
 * The leader's conditional writes, with a leader and six replicas in one ActorSystem on real
 * SQLite journals, wired as a node wires them: conditions are decided when the entry is applied,
 * in log order, so concurrent writes with one condition have exactly one winner, and the answer
 * comes only once the entry is committed and applied.
 */
public class CompareAndSetSimulationTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private SixReplicas six;
  private ActorTestKit testKit;
  private Map<String, NodeWiring.Replica> replicas;
  private ActorRef<LeaderActor.Command> leader;

  @Before
  public void start() {
    six = new SixReplicas("cas-sim", "quorumkv.replication.timeout = 10s");
    testKit = six.testKit;
    replicas = six.replicas;
    NodeWiring wiring = six.wiring;
    leader = testKit.spawn(wiring.leader("node0", replicas.get("node0"), ReplicationDelay.none()), "leader");
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      TestProbe<LeaderActor.LeaderInfo> probe = testKit.createTestProbe();
      leader.tell(new LeaderActor.GetLeaderInfo(probe.ref()));
      LeaderActor.LeaderInfo info = probe.receiveMessage(Duration.ofSeconds(5));
      if (info.active() && info.reachableFollowers() == 5) {
        return;
      }
      try {
        Thread.sleep(20); // polling interval of a test wait
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    fail("the leader did not see its five followers");
  }

  @After
  public void stop() {
    if (testKit != null) {
      testKit.shutdownTestKit();
    }
  }

  private TestProbe<WriteResult> send(String key, String value, WriteCommand command, int w) {
    TestProbe<WriteResult> client = testKit.createTestProbe();
    leader.tell(new LeaderActor.Write(key, value, command, w, TIMEOUT.toMillis(), client.ref()));
    return client;
  }

  private WriteResult.Written put(String key, String value) {
    WriteResult r = send(key, value, null, -1).receiveMessage(TIMEOUT.plusSeconds(5));
    assertTrue(r.toString(), r instanceof WriteResult.Written);
    return (WriteResult.Written) r;
  }

  private long appliedIndexOf(String node) {
    return replicas.get(node).view().state().orElseThrow().appliedIndex();
  }

  @Test
  public void ofConcurrentCompareAndSetsWithTheSameVersionExactlyOneSucceeds() {
    long version = put("counter", "0").version();
    for (int round = 0; round < 5; round++) {
      List<TestProbe<WriteResult>> clients = new ArrayList<>();
      for (int i = 0; i < 4; i++) { // all logged before any is applied
        clients.add(send("counter", "r" + round + "c" + i, new WriteCommand.IfVersion("counter", "r" + round + "c" + i,
            version), -1));
      }
      List<WriteResult.Written> winners = new ArrayList<>();
      List<WriteResult.ConditionFailed> losers = new ArrayList<>();
      for (TestProbe<WriteResult> c : clients) {
        WriteResult r = c.receiveMessage(TIMEOUT.plusSeconds(5));
        if (r instanceof WriteResult.Written w) {
          winners.add(w);
        } else if (r instanceof WriteResult.ConditionFailed f) {
          losers.add(f);
        } else {
          fail("unexpected answer " + r);
        }
      }
      assertEquals("round " + round + ": " + winners + " " + losers, 1, winners.size());
      assertEquals(3, losers.size());
      long won = winners.get(0).version();
      for (WriteResult.ConditionFailed f : losers) {
        assertEquals("counter", f.key());
        assertEquals("a loser sees the winner's version (it was applied before it)", won, f.currentVersion());
        assertTrue(f.version() > won);
      }
      version = won;
    }
  }

  @Test
  public void aConditionalWriteIsAnsweredOnlyOnceCommittedAndAppliedEvenWithWriteQuorumZero() {
    WriteResult r = send("lock", null, new WriteCommand.IfVersion("lock", "held", 0), 0).receiveMessage(
        TIMEOUT.plusSeconds(5));
    assertTrue(r.toString(), r instanceof WriteResult.Written);
    long version = ((WriteResult.Written) r).version();
    assertTrue("the leader's replica applied it before the answer", appliedIndexOf("node0") >= version);

    WriteResult again = send("lock", null, new WriteCommand.IfVersion("lock", "mine", 0), 0).receiveMessage(
        TIMEOUT.plusSeconds(5));
    assertTrue(again.toString(), again instanceof WriteResult.ConditionFailed);
    assertEquals(version, ((WriteResult.ConditionFailed) again).currentVersion());
    assertEquals("held", replicas.get("node0").view().read("lock").orElseThrow().value());
  }

  @Test
  public void prefixDeletesAndTransactionsAnswerWithWhatTheyDid() {
    put("cfg/a", "1");
    put("cfg/b", "2");
    put("cfh", "3");
    WriteResult deleted = send(null, null, new WriteCommand.DeletePrefix("cfg/"), -1).receiveMessage(
        TIMEOUT.plusSeconds(5));
    assertTrue(deleted.toString(), deleted instanceof WriteResult.PrefixDeleted);
    assertEquals(2, ((WriteResult.PrefixDeleted) deleted).deleted());

    long cfh = replicas.get("node0").view().read("cfh").orElseThrow().version();
    WriteCommand.Txn txn = new WriteCommand.Txn(List.of(WriteCommand.Compare.version("cfh", cfh)),
        List.of(WriteCommand.TxnOp.put("cfh", "4"), WriteCommand.TxnOp.get("cfg/a")), List.of());
    WriteResult done = send(null, null, txn, -1).receiveMessage(TIMEOUT.plusSeconds(5));
    assertTrue(done.toString(), done instanceof WriteResult.TxnDone);
    WriteResult.TxnDone t = (WriteResult.TxnDone) done;
    assertTrue(t.succeeded());
    assertEquals(List.of(new TxnOpResult(WriteCommand.OpType.PUT, "cfh", null, t.version(), true),
        new TxnOpResult(WriteCommand.OpType.GET, "cfg/a", null, 0, false)), t.results());

    WriteResult.TxnDone failed = (WriteResult.TxnDone) send(null, null, txn, -1).receiveMessage(TIMEOUT.plusSeconds(5));
    assertTrue(!failed.succeeded() && failed.results().isEmpty());
  }

  @Test
  public void conditionalWritesGoThroughTheForwarderLikePlainOnes() throws Exception {
    ActorRef<WriteForwarder.Command> forwarder = testKit.spawn(WriteForwarder.create(leader, Duration.ofSeconds(5), 64, 1L << 20));
    CompletableFuture<WriteResult> a = new CompletableFuture<>();
    CompletableFuture<WriteResult> b = new CompletableFuture<>();
    forwarder.tell(new WriteForwarder.Forward("fw", null, new WriteCommand.IfVersion("fw", "a", 0), -1,
        TIMEOUT.toMillis(), a));
    forwarder.tell(new WriteForwarder.Forward("fw", null, new WriteCommand.IfVersion("fw", "b", 0), -1,
        TIMEOUT.toMillis(), b));
    WriteResult ra = a.get(TIMEOUT.plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS);
    WriteResult rb = b.get(TIMEOUT.plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS);
    assertTrue(ra + " " + rb, ra instanceof WriteResult.Written);
    assertTrue(ra + " " + rb, rb instanceof WriteResult.ConditionFailed);
  }

  @Test
  public void commandsAndTheirAnswersCrossTheNetworkIntact() throws Exception {
    akka.serialization.Serialization serialization =
        akka.serialization.SerializationExtension.get(testKit.system().classicSystem());
    WriteCommand.Txn txn = new WriteCommand.Txn(List.of(WriteCommand.Compare.exists("a", true)),
        List.of(WriteCommand.TxnOp.put("a", "1"), WriteCommand.TxnOp.get("b")), List.of(WriteCommand.TxnOp.delete("a")));
    TestProbe<WriteForwarder.Results> origin = testKit.createTestProbe();
    List<Object> messages = List.of(
        new LeaderActor.WriteBatch(List.of(
            new LeaderActor.ForwardedWrite(1, "k", "v", 2, 500),
            new LeaderActor.ForwardedWrite(2, "k", null, new WriteCommand.IfVersion("k", "v", 3), -1, 500),
            new LeaderActor.ForwardedWrite(3, null, null, new WriteCommand.DeletePrefix("p/"), -1, 500),
            new LeaderActor.ForwardedWrite(4, null, null, txn, 5, 500)), origin.ref(), false),
        new WriteForwarder.Results(List.of(
            new WriteForwarder.Result(1, new WriteResult.ConditionFailed("k", 9, 7, "node0")),
            new WriteForwarder.Result(2, new WriteResult.PrefixDeleted("p/", 10, 3, 3, 3, "node0")),
            new WriteForwarder.Result(3, new WriteResult.TxnDone(true, 11, List.of(
                new TxnOpResult(WriteCommand.OpType.PUT, "a", null, 11, true),
                new TxnOpResult(WriteCommand.OpType.GET, "b", null, 0, false)), 3, 3, "node0")))));
    akka.actor.testkit.typed.javadsl.SerializationTestKit serializationTestKit =
        new akka.actor.testkit.typed.javadsl.SerializationTestKit(testKit.system());
    for (Object message : messages) {
      assertEquals("akka.serialization.jackson.JacksonCborSerializer",
          serialization.findSerializerFor(message).getClass().getName());
      serializationTestKit.verifySerialization(message, true);
    }
  }
}
