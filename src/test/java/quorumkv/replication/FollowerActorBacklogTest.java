package quorumkv.replication;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.ClassRule;
import org.junit.Test;
import quorumkv.TestConfig;
import quorumkv.storage.LogEntry;

/**
 * A replica that gets a flood of read-only commands while its journal write is in flight (what a
 * leader's read rounds and leader reads send a replica whose disk stalled or whose partition just
 * healed). Akka 2.8's event-sourced behaviour stashes them and unstashes them recursively, so
 * enough of them overflowed the thread's stack and the node's JVM exited (a nemesis run). A fatal
 * error does not stop this JVM here: the test fails by missing answers instead.
 */
public class FollowerActorBacklogTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource(
      TestConfig.local(TestConfig.newDataDir("backlog"), "akka.jvm-exit-on-fatal-error = off\n"));

  /** Far more than one stack can unstash recursively (about 1,000 per MiB of stack in Akka 2.8.6). */
  private static final int FLOOD = 40_000;

  private record Count(int answers, int confirmed) {}

  /** Counts the answers it gets; tells {@code done} once it has {@code expected}. */
  private static <T> Behavior<T> counter(int expected, java.util.function.Predicate<T> good, ActorRef<Count> done) {
    return Behaviors.setup(ctx -> {
      int[] counts = new int[2];
      return Behaviors.receiveMessage(m -> {
        counts[0]++;
        if (good.test(m)) {
          counts[1]++;
        }
        if (counts[0] == expected) {
          done.tell(new Count(counts[0], counts[1]));
        }
        return Behaviors.same();
      });
    });
  }

  @Test
  public void answersEveryReadOnlyCommandThatArrivesDuringAJournalWrite() {
    ActorRef<FollowerActor.Command> f = testKit.spawn(FollowerActor.create("b1", 1000, 100));
    TestProbe<FollowerActor.Position> position = testKit.createTestProbe();
    f.tell(new FollowerActor.GetPosition(position.ref()));
    position.receiveMessage(Duration.ofSeconds(60)); // recovered (the journal has started)

    TestProbe<Count> confirmsDone = testKit.createTestProbe();
    TestProbe<Count> readsDone = testKit.createTestProbe();
    ActorRef<FollowerActor.TermConfirmed> confirms = testKit.spawn(
        counter(FLOOD, FollowerActor.TermConfirmed::confirmed, confirmsDone.ref()));
    ActorRef<ReadResult> reads = testKit.spawn(counter(FLOOD, r -> r instanceof FollowerActor.Value, readsDone.ref()));
    TestProbe<FollowerActor.ReplicateReply> leader = testKit.createTestProbe();

    // Each Replicate is a journal write; the flood arrives while they are in flight.
    for (long batch = 0; batch < 4; batch++) {
      List<LogEntry> entries = LongStream.rangeClosed(batch * 100 + 1, batch * 100 + 100)
          .mapToObj(i -> new LogEntry(i, 1, "k" + (i % 7), "v" + i)).toList();
      f.tell(new FollowerActor.Replicate(1, "leader", batch * 100, batch == 0 ? 0 : 1, entries, batch * 100,
          0, leader.ref()));
      for (int i = 0; i < FLOOD / 4; i++) {
        f.tell(new FollowerActor.ConfirmTerm(1, batch * FLOOD + i, confirms));
        f.tell(new FollowerActor.ReadAt("k1", 0, reads));
      }
    }

    assertEquals(new Count(FLOOD, FLOOD), confirmsDone.receiveMessage(Duration.ofSeconds(60)));
    assertEquals(new Count(FLOOD, FLOOD), readsDone.receiveMessage(Duration.ofSeconds(60)));
    for (int batch = 0; batch < 4; batch++) {
      FollowerActor.ReplicateReply ack = leader.receiveMessage(Duration.ofSeconds(30));
      assertEquals(new FollowerActor.Acked("b1", 1, batch * 100L + 100, 0), ack);
    }
    // Still alive and serving: a read after the flood sees the committed entries.
    TestProbe<ReadResult> probe = testKit.createTestProbe();
    f.tell(new FollowerActor.Replicate(1, "leader", 400, 1, List.of(), 400, 0, leader.ref()));
    leader.receiveMessage();
    f.tell(new FollowerActor.ReadAt("k1", 400, probe.ref()));
    FollowerActor.Value v = (FollowerActor.Value) probe.receiveMessage();
    assertTrue(v.found());
    assertEquals("v400", v.value());
  }
}
