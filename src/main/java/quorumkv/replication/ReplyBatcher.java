package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A child of the leader, one per {@link WriteForwarder} that sent it writes: gathers the answers
 * that the write's aggregators give while a group is being sent and sends them back to that node
 * as one {@link WriteForwarder.Results} message. The first answer of a group schedules the flush
 * behind itself in the mailbox, so nothing waits for a timer.
 *
 * <p>When an ack brings several of this node's writes to their quorum at once, the leader first
 * tells the batcher how many answers to {@link Expect}, and the batcher sends them together once
 * all have come. Without it a group ended wherever the flush fell among the aggregators, which
 * answer as the thread pool runs them. An expected answer that never comes (its aggregator had
 * already stopped) holds the others until the next {@link #CHECK_EVERY} tick that saw no answer.
 */
final class ReplyBatcher extends AbstractBehavior<ReplyBatcher.Command> {

  sealed interface Command {}

  record Answer(long id, WriteResult result) implements Command {}

  /** The next {@code answers} plain answers belong to one ack: send them as one message. */
  record Expect(int answers) implements Command {}

  private record Flush() implements Command {}

  private record Check() implements Command {}

  static final Duration CHECK_EVERY = Duration.ofMillis(100);

  private final ActorRef<WriteForwarder.Results> origin;
  private final int maxBatch;
  private final List<WriteForwarder.Result> buffer = new ArrayList<>();
  private boolean flushScheduled;
  /** Answers announced by {@link Expect} and not yet come. */
  private int expected;
  private long answers;
  private long answersAtLastCheck;

  static Behavior<Command> create(ActorRef<WriteForwarder.Results> origin, int maxBatch) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(new Check(), CHECK_EVERY);
      return new ReplyBatcher(ctx, origin, maxBatch);
    }));
  }

  private ReplyBatcher(ActorContext<Command> context, ActorRef<WriteForwarder.Results> origin, int maxBatch) {
    super(context);
    this.origin = origin;
    this.maxBatch = maxBatch;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Answer.class, this::onAnswer)
        .onMessage(Expect.class, e -> {
          expected += e.answers();
          return this;
        })
        .onMessage(Flush.class, f -> {
          flushScheduled = false;
          flush();
          return this;
        })
        .onMessage(Check.class, c -> {
          if (expected > 0 && answers == answersAtLastCheck) {
            expected = 0;
            flush();
          }
          answersAtLastCheck = answers;
          return this;
        })
        .build();
  }

  private Behavior<Command> onAnswer(Answer answer) {
    answers++;
    buffer.add(new WriteForwarder.Result(answer.id(), answer.result()));
    if (expected > 0) {
      expected--;
      if (expected == 0 || buffer.size() >= maxBatch) {
        flush();
      }
    } else if (buffer.size() >= maxBatch) {
      flush();
    } else if (!flushScheduled) {
      flushScheduled = true;
      getContext().getSelf().tell(new Flush());
    }
    return this;
  }

  private void flush() {
    if (!buffer.isEmpty()) {
      origin.tell(new WriteForwarder.Results(List.copyOf(buffer)));
      buffer.clear();
    }
  }
}
