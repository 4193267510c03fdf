package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import quorumkv.metrics.Metrics;
import quorumkv.storage.LogEntry;

/**
 * The face of a node's replica: passes every command on to its {@link FollowerActor} in the order
 * received, but holds back the leader's {@code Replicate}s while the replica is persisting one, and
 * then hands over everything that arrived meanwhile as one message, so one journal write (one
 * SQLite transaction and fsync) takes all of them. Like etcd's raft node appending everything that
 * arrived since its last {@code Ready} in one write. The leader may thus keep several batches in
 * flight without each costing a journal write of its own.
 *
 * <p>Each Replicate the leader sent still gets its own answer: when the replica answers a merged
 * one, every message merged into it is answered. An {@link FollowerActor.Acked} is answered with
 * {@code min(its own last index, the merged answer's)}, so no answer claims more than the replica
 * said it holds.
 */
public final class ReplicaInbox extends AbstractBehavior<Object> {

  /** Entries one merged message may carry: a journal event of a few MiB at most. */
  static final int MAX_MERGED_ENTRIES = 4_000;

  /**
   * A replica that has not answered for this long may have lost the message (its journal failed
   * and it restarted): what is held goes on anyway, so the leader's own resends are not stuck
   * behind it.
   */
  static final Duration STUCK_AFTER = Duration.ofSeconds(3);

  private record Answered(FollowerActor.ReplicateReply reply) {}

  private record Stuck() {}

  private final ActorRef<FollowerActor.Command> replica;
  private final ActorRef<FollowerActor.ReplicateReply> answers;
  private final TimerScheduler<Object> timers;
  private final Metrics metrics;
  /** Replicates received and not passed on yet, in arrival order. */
  private final List<FollowerActor.Replicate> held = new ArrayList<>();
  /** What each message passed on and not answered yet carried, in the order passed on. */
  private final ArrayDeque<List<FollowerActor.Replicate>> passedOn = new ArrayDeque<>();

  /** {@code replica} is spawned as this actor's child, named {@code journal}. */
  public static Behavior<FollowerActor.Command> create(Behavior<FollowerActor.Command> replica) {
    return Behaviors.<Object>setup(ctx -> Behaviors.withTimers(timers -> new ReplicaInbox(ctx, timers, replica)))
        .narrow();
  }

  private ReplicaInbox(ActorContext<Object> context, TimerScheduler<Object> timers,
      Behavior<FollowerActor.Command> replica) {
    super(context);
    this.timers = timers;
    this.metrics = Metrics.get(context.getSystem());
    this.replica = context.spawn(replica, "journal");
    this.answers = context.messageAdapter(FollowerActor.ReplicateReply.class, Answered::new);
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(FollowerActor.Replicate.class, this::onReplicate)
        .onMessage(Answered.class, this::onAnswered)
        .onMessage(Stuck.class, s -> {
          passedOn.clear(); // answers still to come are relayed as far as they go (see onAnswered)
          passOnHeld();
          return this;
        })
        .onAnyMessage(other -> {
          passOnHeld(); // keep the order: what came before goes first
          replica.tell((FollowerActor.Command) other);
          return this;
        })
        .build();
  }

  private Behavior<Object> onReplicate(FollowerActor.Replicate r) {
    held.add(r);
    if (passedOn.isEmpty()) {
      passOnHeld();
    }
    return this;
  }

  private Behavior<Object> onAnswered(Answered a) {
    List<FollowerActor.Replicate> group = passedOn.poll();
    if (group != null) {
      for (FollowerActor.Replicate r : group) {
        r.replyTo().tell(answerTo(r, a.reply()));
      }
    }
    if (passedOn.isEmpty()) {
      timers.cancel(Stuck.class);
      passOnHeld();
    }
    return this;
  }

  /** Passes on everything held, merging runs of Replicates that continue each other. */
  private void passOnHeld() {
    int i = 0;
    while (i < held.size()) {
      List<FollowerActor.Replicate> group = new ArrayList<>();
      FollowerActor.Replicate first = held.get(i);
      group.add(first);
      int entries = first.entries().size();
      i++;
      while (i < held.size() && continues(group.get(group.size() - 1), held.get(i))
          && entries + held.get(i).entries().size() <= MAX_MERGED_ENTRIES) {
        entries += held.get(i).entries().size();
        group.add(held.get(i));
        i++;
      }
      replica.tell(merged(group, entries));
      metrics.merged(group.size());
      passedOn.add(group);
    }
    if (!held.isEmpty()) {
      held.clear();
      timers.startSingleTimer(Stuck.class, new Stuck(), STUCK_AFTER);
    }
  }

  /** Whether {@code next} was sent right after {@code previous} by the same leader in the same term. */
  static boolean continues(FollowerActor.Replicate previous, FollowerActor.Replicate next) {
    return previous.term() == next.term() && previous.leader().equals(next.leader())
        && previous.replyTo().equals(next.replyTo())
        && next.prevIndex() == lastIndex(previous) && next.prevTerm() == lastTerm(previous);
  }

  private FollowerActor.Replicate merged(List<FollowerActor.Replicate> group, int entries) {
    FollowerActor.Replicate first = group.get(0);
    long commit = first.leaderCommit();
    List<LogEntry> all = group.size() == 1 ? first.entries() : new ArrayList<>(entries);
    for (FollowerActor.Replicate r : group) {
      commit = Math.max(commit, r.leaderCommit());
      if (group.size() > 1) {
        all.addAll(r.entries());
      }
    }
    return new FollowerActor.Replicate(first.term(), first.leader(), first.prevIndex(), first.prevTerm(),
        List.copyOf(all), commit, answers);
  }

  /** The answer to {@code r}, from the replica's answer to the message {@code r} was merged into. */
  static FollowerActor.ReplicateReply answerTo(FollowerActor.Replicate r, FollowerActor.ReplicateReply reply) {
    if (reply instanceof FollowerActor.Acked acked && acked.matchIndex() > lastIndex(r)) {
      return new FollowerActor.Acked(acked.node(), acked.term(), lastIndex(r));
    }
    return reply;
  }

  static long lastIndex(FollowerActor.Replicate r) {
    return r.entries().isEmpty() ? r.prevIndex() : r.entries().get(r.entries().size() - 1).index();
  }

  private static long lastTerm(FollowerActor.Replicate r) {
    return r.entries().isEmpty() ? r.prevTerm() : r.entries().get(r.entries().size() - 1).term();
  }
}
