package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.function.Consumer;
import quorumkv.storage.EntryOutcome;

/**
 * One per client write, a child of the leader: answers the client exactly once, as soon as the
 * leader's own replica and {@code quorum} followers hold the write (it does not wait for the
 * slowest) and, for an entry whose outcome depends on the state, the leader's replica has applied
 * it, or with 503 when the timeout passes or too few of the awaited followers are left to make
 * the quorum.
 *
 * <p>The acks are counted by the leader, in its commit bookkeeping ({@link quorumkv.core.WriteAcks}:
 * one range of indexes per replica answer), which tells the aggregator only the outcome: one
 * message per write rather than one per ack (six at W=3 with five followers, each waking this
 * actor on a dispatcher thread). The aggregator keeps the write's timer; when it fires first, it
 * asks the leader for the counts so far, and the leader decides the write as timed out.
 */
public final class QuorumAggregator extends AbstractBehavior<QuorumAggregator.Command> {

  public sealed interface Command {}

  /** The leader's replica and the quorum hold the write; {@code acks} followers do so far. */
  public record QuorumReached(int acks) implements Command {}

  /** Awaited followers were lost: {@code acks} answered and only {@code awaitedLeft} are left. */
  public record OutOfReach(int acks, int awaitedLeft) implements Command {}

  /** The leader's answer to {@link LeaderActor.WriteTimedOut}: where the write stood, now decided as timed out. */
  public record TimedOut(int acks, boolean leaderDurable) implements Command {}

  private record Timeout() implements Command {}

  /** This node's replica applied the (command) entry: what it did, if known. */
  private record Applied(FollowerActor.OutcomeKnown known) implements Command {}

  private final long index;
  private final String key;
  private final int quorum;
  private final Duration timeout;
  private final Consumer<WriteResult> replyTo;
  private final String leaderNode;
  private final ActorRef<LeaderActor.Command> leader;
  /** Whether the answer waits for the entry's outcome (a command entry), and the outcome once applied. */
  private final boolean awaitsOutcome;
  private FollowerActor.OutcomeKnown applied;
  /** Follower acks when the leader reported the quorum reached; -1 before. */
  private int reachedWithAcks = -1;
  private boolean timedOut;

  /**
   * {@code reply} is called once, on this actor's thread; it must only send a message (the leader
   * passes one that tags the answer for the {@link ReplyBatcher} of a forwarded write).
   */
  public static Behavior<Command> create(long index, String key, int quorum, Duration timeout,
      Consumer<WriteResult> reply, String leaderNode, ActorRef<LeaderActor.Command> leader) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new QuorumAggregator(ctx, timers, index, key, quorum, timeout, reply, leaderNode, leader, null, 0)));
  }

  /**
   * For an entry whose outcome depends on the state (compare-and-set, prefix delete, transaction):
   * answers once the quorum is reached and {@code localReplica} (the leader's) has applied it,
   * which it only does once it is committed, with what applying it did.
   */
  public static Behavior<Command> awaitingOutcome(long index, long term, String key, int quorum, Duration timeout,
      Consumer<WriteResult> reply, String leaderNode, ActorRef<LeaderActor.Command> leader,
      ActorRef<FollowerActor.Command> localReplica) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new QuorumAggregator(ctx, timers, index, key, quorum, timeout, reply, leaderNode, leader, localReplica, term)));
  }

  private QuorumAggregator(
      ActorContext<Command> context, TimerScheduler<Command> timers, long index, String key, int quorum,
      Duration timeout, Consumer<WriteResult> replyTo, String leaderNode, ActorRef<LeaderActor.Command> leader,
      ActorRef<FollowerActor.Command> localReplica, long term) {
    super(context);
    this.awaitsOutcome = localReplica != null;
    if (awaitsOutcome) {
      localReplica.tell(new FollowerActor.AwaitOutcome(index, term,
          context.messageAdapter(FollowerActor.OutcomeKnown.class, Applied::new)));
    }
    this.index = index;
    this.key = key;
    this.quorum = quorum;
    this.timeout = timeout;
    this.replyTo = replyTo;
    this.leaderNode = leaderNode;
    this.leader = leader;
    timers.startSingleTimer(new Timeout(), timeout);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(QuorumReached.class, r -> {
          reachedWithAcks = r.acks();
          return replyIfDone();
        })
        .onMessage(OutOfReach.class, o -> fail(o.acks(), String.format(
            "quorum not reached: %d of %d follower acks, and only %d awaited followers are left; the write is in "
                + "doubt (logged at index %d, not rolled back)",
            o.acks(), quorum, o.awaitedLeft(), index)))
        .onMessage(Timeout.class, t -> onTimeout())
        .onMessage(TimedOut.class, t -> fail(t.acks(), String.format(
            "quorum not reached: %d of %d follower acks%s within %d ms; the write is in doubt (logged at index %d, "
                + "not rolled back)",
            t.acks(), quorum, t.leaderDurable() ? "" : " and no durable write on the leader", timeout.toMillis(),
            index)))
        .onMessage(Applied.class, a -> {
          applied = a.known();
          return replyIfDone();
        })
        .build();
  }

  private Behavior<Command> onTimeout() {
    timedOut = true;
    if (reachedWithAcks >= 0) { // only the apply was missing
      return notApplied();
    }
    // The leader decides: either the write is still waiting (it answers TimedOut), or its outcome
    // is already on the way here.
    leader.tell(new LeaderActor.WriteTimedOut(index, getContext().getSelf()));
    return this;
  }

  private Behavior<Command> replyIfDone() {
    if (reachedWithAcks < 0) {
      return this;
    }
    if (!awaitsOutcome) {
      replyTo.accept(new WriteResult.Written(key, index, reachedWithAcks, quorum, leaderNode));
      return Behaviors.stopped();
    }
    if (applied == null) {
      return timedOut ? notApplied() : this;
    }
    if (applied.outcome().isEmpty()) {
      return fail(reachedWithAcks, String.format("the entry logged at index %d was not the one applied there on the "
          + "leader's replica (a new leader replaced it), or its outcome is no longer known: the write is in doubt",
          index));
    }
    replyTo.accept(answer(applied.outcome().get()));
    return Behaviors.stopped();
  }

  private Behavior<Command> notApplied() {
    return fail(reachedWithAcks, String.format(
        "not applied on the leader within %d ms although %d of %d follower acks came: the write is in doubt "
            + "(logged at index %d, not rolled back; what it does is decided when it applies)",
        timeout.toMillis(), reachedWithAcks, quorum, index));
  }

  private WriteResult answer(EntryOutcome outcome) {
    int acks = reachedWithAcks;
    if (outcome instanceof EntryOutcome.ConditionFailed f) {
      return new WriteResult.ConditionFailed(f.key(), index, f.currentVersion(), leaderNode);
    } else if (outcome instanceof EntryOutcome.Deleted d) {
      return new WriteResult.Deleted(key, index, d.found(), acks, quorum, leaderNode);
    } else if (outcome instanceof EntryOutcome.PrefixDeleted p) {
      return new WriteResult.PrefixDeleted(p.prefix(), index, p.deleted(), acks, quorum, leaderNode);
    } else if (outcome instanceof EntryOutcome.TxnApplied t) {
      return new WriteResult.TxnDone(t.succeeded(), index, t.results(), acks, quorum, leaderNode);
    }
    return new WriteResult.Written(key, index, acks, quorum, leaderNode);
  }

  private Behavior<Command> fail(int acks, String reason) {
    replyTo.accept(new WriteResult.QuorumNotReached(key, index, acks, quorum, leaderNode, reason));
    return Behaviors.stopped();
  }
}
