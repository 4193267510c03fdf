package quorumkv.replication;

import static org.junit.Assert.assertEquals;

import akka.actor.testkit.typed.javadsl.TestKitJunitResource;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import java.time.Duration;
import java.util.List;
import org.junit.ClassRule;
import org.junit.Test;

/**
 * The answers an ack releases to one node go back as one message once all of them have come,
 * however the aggregators' answers interleave with the batcher's own flushes; an announced answer
 * that never comes holds the others only until the next check.
 */
public class ReplyBatcherTest {
  @ClassRule
  public static final TestKitJunitResource testKit = new TestKitJunitResource("akka.actor.provider = local");

  private static ReplyBatcher.Answer answer(long id) {
    return new ReplyBatcher.Answer(id, new WriteResult.Written("k" + id, id, 3, 3, "node0"));
  }

  private static List<Long> ids(WriteForwarder.Results results) {
    return results.results().stream().map(WriteForwarder.Result::id).toList();
  }

  @Test
  public void theAnswersAnAckReleasesGoBackTogether() {
    TestProbe<WriteForwarder.Results> origin = testKit.createTestProbe();
    ActorRef<ReplyBatcher.Command> batcher = testKit.spawn(ReplyBatcher.create(origin.ref(), 1000));

    batcher.tell(new ReplyBatcher.Expect(3));
    batcher.tell(answer(1));
    batcher.tell(answer(2));
    origin.expectNoMessage(Duration.ofMillis(50)); // without Expect, answer 1 would have gone alone
    batcher.tell(answer(3));
    assertEquals(List.of(1L, 2L, 3L), ids(origin.receiveMessage()));

    batcher.tell(answer(4)); // nothing announced: sent after whatever is already in the mailbox
    assertEquals(List.of(4L), ids(origin.receiveMessage()));
  }

  @Test
  public void anAnnouncedAnswerThatNeverComesHoldsTheOthersOnlyUntilTheNextQuietCheck() {
    TestProbe<WriteForwarder.Results> origin = testKit.createTestProbe();
    ActorRef<ReplyBatcher.Command> batcher = testKit.spawn(ReplyBatcher.create(origin.ref(), 1000));

    batcher.tell(new ReplyBatcher.Expect(2));
    batcher.tell(answer(7));
    origin.expectNoMessage(Duration.ofMillis(50));
    assertEquals(List.of(7L), ids(origin.receiveMessage(ReplyBatcher.CHECK_EVERY.multipliedBy(5))));

    batcher.tell(answer(8)); // the count was reset: this one goes on its own at once
    assertEquals(List.of(8L), ids(origin.receiveMessage(Duration.ofSeconds(3))));
  }
}
