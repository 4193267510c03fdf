package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import java.util.ArrayList;
import java.util.List;

/**
 * A child of the leader, one per {@link WriteForwarder} that sent it writes: gathers the answers
 * that the write's aggregators give while a group is being sent and sends them back to that node
 * as one {@link WriteForwarder.Results} message. The first answer of a group schedules the flush
 * behind itself in the mailbox, so nothing waits for a timer.
 */
final class ReplyBatcher extends AbstractBehavior<ReplyBatcher.Command> {

  sealed interface Command {}

  record Answer(long id, WriteResult result) implements Command {}

  private record Flush() implements Command {}

  private final ActorRef<WriteForwarder.Results> origin;
  private final int maxBatch;
  private final List<WriteForwarder.Result> buffer = new ArrayList<>();
  private boolean flushScheduled;

  static Behavior<Command> create(ActorRef<WriteForwarder.Results> origin, int maxBatch) {
    return Behaviors.setup(ctx -> new ReplyBatcher(ctx, origin, maxBatch));
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
        .onMessage(Flush.class, f -> {
          flushScheduled = false;
          flush();
          return this;
        })
        .build();
  }

  private Behavior<Command> onAnswer(Answer answer) {
    buffer.add(new WriteForwarder.Result(answer.id(), answer.result()));
    if (buffer.size() >= maxBatch) {
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
