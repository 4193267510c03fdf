package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import quorumkv.CborSerializable;
import quorumkv.metrics.Metrics;
import quorumkv.storage.WriteCommand;

/**
 * One per node, between its HTTP clients and the leader (through its own node's LeaderActor, which passes them on): the writes
 * that arrive while it is busy go to the leader as one {@link LeaderActor.WriteBatch}, and the
 * answers come back grouped as {@link Results}. Under load that is one remote message each way per
 * group instead of two per write, which is most of what a write costs a node that is not the
 * leader.
 *
 * <p>Grouping adds no waiting: the first write of a group schedules a {@code Flush} behind itself
 * in the mailbox, so the group is exactly what arrived before the mailbox reached it.
 *
 * <p>The HTTP layer hands each write a future to complete, not an actor to reply to: the forwarder
 * is the long-lived actor with correlation ids, so a request costs no temporary actor and no
 * timer of its own. A write whose answer never comes (the leader died with it) is completed with
 * a {@link NoAnswer} once its timeout and the grace have passed (checked every
 * {@link #SWEEP_EVERY}); the client gets a 503 saying the write is in doubt.
 */
public final class WriteForwarder extends AbstractBehavior<WriteForwarder.Command> {

  public sealed interface Command {}

  /**
   * A client write from this node's HTTP layer: a plain put or delete of {@code key}, or a
   * {@code command} (compare-and-set, prefix delete, transaction; {@code key} then only labels
   * the answers that carry a key). {@code writeQuorum < 0} means the default W. {@code answer} is
   * completed with the leader's answer, or with {@link NoAnswer} when none came in time.
   */
  public record Forward(String key, String value, WriteCommand command, int writeQuorum, long timeoutMillis,
      CompletableFuture<WriteResult> answer) implements Command {
    public Forward(String key, String value, int writeQuorum, long timeoutMillis, CompletableFuture<WriteResult> answer) {
      this(key, value, null, writeQuorum, timeoutMillis, answer);
    }
  }

  /** No answer from the leader within a write's timeout and the grace: the write is in doubt. */
  public static final class NoAnswer extends RuntimeException {
    NoAnswer(long waitedMillis) {
      super("no answer from the leader within " + waitedMillis + " ms", null, false, false);
    }
  }

  /** The leader's answers to writes of earlier batches, by the id this forwarder gave them. */
  public record Results(List<Result> results) implements Command, CborSerializable {}

  public record Result(long id, WriteResult result) {}

  private record Flush() implements Command {}

  private record Sweep() implements Command {}

  private record Waiting(CompletableFuture<WriteResult> answer, long deadlineNanos, long waitedMillis) {}

  /** How often writes past their deadline are answered {@link NoAnswer}: how late such an answer can be. */
  private static final Duration SWEEP_EVERY = Duration.ofMillis(100);

  private final ActorRef<LeaderActor.Command> leader;
  private final Duration answerGrace;
  private final int maxBatch;
  private final long maxBatchBytes;
  private final List<LeaderActor.ForwardedWrite> buffer = new ArrayList<>();
  /** {@link #approximateBytes} of the writes in {@link #buffer}. */
  private long bufferBytes;
  private final Map<Long, Waiting> waiting = new HashMap<>();
  private final Metrics metrics;
  private long nextId;
  private boolean flushScheduled;

  /**
   * @param answerGrace how long past a write's own timeout its answer is still awaited (the HTTP
   *     request waits that long too)
   * @param maxBatch writes per batch at most; a larger group goes out in several
   * @param maxBatchBytes approximate size of a batch at most (as for the leader's Replicate
   *     batches): a batch is one Artery message, and Artery discards one over its frame (4 MiB),
   *     with every write in it. A single write always goes, whatever its size.
   */
  public static Behavior<Command> create(ActorRef<LeaderActor.Command> leader, Duration answerGrace, int maxBatch,
      long maxBatchBytes) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(new Sweep(), SWEEP_EVERY);
      return new WriteForwarder(ctx, leader, answerGrace, maxBatch, maxBatchBytes);
    }));
  }

  private WriteForwarder(ActorContext<Command> context, ActorRef<LeaderActor.Command> leader, Duration answerGrace,
      int maxBatch, long maxBatchBytes) {
    super(context);
    this.leader = leader;
    this.answerGrace = answerGrace;
    this.maxBatch = maxBatch;
    this.maxBatchBytes = maxBatchBytes;
    this.metrics = Metrics.get(context.getSystem());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Forward.class, this::onForward)
        .onMessage(Flush.class, f -> {
          flushScheduled = false;
          flush();
          return this;
        })
        .onMessage(Results.class, this::onResults)
        .onMessage(Sweep.class, this::onSweep)
        .build();
  }

  private Behavior<Command> onForward(Forward f) {
    long id = ++nextId;
    Duration wait = Duration.ofMillis(f.timeoutMillis()).plus(answerGrace);
    waiting.put(id, new Waiting(f.answer(), System.nanoTime() + wait.toNanos(), wait.toMillis()));
    long bytes = approximateBytes(f);
    if (!buffer.isEmpty() && bufferBytes + bytes > maxBatchBytes) {
      flush();
    }
    buffer.add(new LeaderActor.ForwardedWrite(id, f.key(), f.value(), f.command(), f.writeQuorum(), f.timeoutMillis()));
    bufferBytes += bytes;
    if (buffer.size() >= maxBatch || bufferBytes >= maxBatchBytes) {
      flush();
    } else if (!flushScheduled) {
      flushScheduled = true;
      getContext().getSelf().tell(new Flush());
    }
    return this;
  }

  private void flush() {
    if (buffer.isEmpty()) {
      return;
    }
    leader.tell(new LeaderActor.WriteBatch(List.copyOf(buffer), getContext().getSelf().narrow(), false));
    metrics.forwarded(buffer.size(), waiting.size());
    buffer.clear();
    bufferBytes = 0;
  }

  /** Rough size of a write on the wire, counted as {@link quorumkv.storage.LogEntry#approximateBytes()} counts. */
  static long approximateBytes(Forward f) {
    return 48L + (f.key() == null ? 0 : f.key().length()) + (f.value() == null ? 0 : f.value().length())
        + (f.command() == null ? 0 : f.command().approximateBytes());
  }

  private Behavior<Command> onResults(Results results) {
    for (Result r : results.results()) {
      Waiting w = waiting.remove(r.id());
      if (w != null) {
        w.answer().complete(r.result());
      }
    }
    metrics.forwardedWaiting(waiting.size());
    return this;
  }

  private Behavior<Command> onSweep(Sweep sweep) {
    long now = System.nanoTime();
    for (Iterator<Waiting> it = waiting.values().iterator(); it.hasNext(); ) {
      Waiting w = it.next();
      if (now - w.deadlineNanos() > 0) {
        it.remove();
        w.answer().completeExceptionally(new NoAnswer(w.waitedMillis()));
      }
    }
    metrics.forwardedWaiting(waiting.size());
    return this;
  }
}
