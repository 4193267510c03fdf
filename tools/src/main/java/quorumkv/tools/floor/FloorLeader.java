package quorumkv.tools.floor;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import quorumkv.CborSerializable;
import quorumkv.tools.LatencyRecorder;

/**
 * The least a leader of the design card can be, driving its own closed loop of clients: each
 * client has one write outstanding and sends the next the moment it is committed, that is once
 * the leader's own replica and {@code writeQuorum} followers hold it. Per replica one
 * {@link FloorReplica.Append} is in flight, carrying everything not yet sent to it (at most
 * {@code maxBatch} entries), as the node's leader does. No HTTP, no forwarding, no aggregator,
 * no terms or commit messages: what is left is Artery and akka-persistence-jdbc.
 */
public final class FloorLeader extends AbstractBehavior<FloorLeader.Command> {

  public sealed interface Command {}

  /** Replica {@code replica} (0 is the leader's own) holds every entry up to {@code upTo}. */
  public record Acked(int replica, long upTo) implements Command, CborSerializable {}

  /** Keep this many clients writing (0 stops them once their writes are committed). */
  public record SetClients(int clients) implements Command {}

  /** Start counting: commits, their latency into {@code latencies}, the appends sent to followers. */
  public record OpenWindow(LatencyRecorder latencies) implements Command {}

  /** Stop counting and answer what was counted since {@link OpenWindow}. */
  public record CloseWindow(CompletableFuture<Window> answer) implements Command {}

  /** Writes committed in a window, and the appends and entries sent to the followers meanwhile. */
  public record Window(long committed, long appends, long entriesSent) {}

  private final List<ActorRef<FloorReplica.Append>> replicas;
  private final int writeQuorum;
  private final int maxBatch;
  private final String value;
  private final ArrayList<FloorReplica.Entry> log = new ArrayList<>();
  /** Index of the first entry in {@link #log}. */
  private long logStart = 1;
  private long lastIndex;
  private long commitIndex;
  private final long[] sent;
  private final long[] acked;
  private final boolean[] inFlight;
  /** Send time of each uncommitted write, by index modulo its length (never more outstanding than clients). */
  private long[] startNanos = new long[1];
  private int targetClients;
  private int activeClients;
  private LatencyRecorder latencies;
  private long committed;
  private long appends;
  private long entriesSent;

  /**
   * @param followers the followers' replicas; the leader spawns its own
   * @param maxBatch entries per append at most (the node's {@code max-batch-entries} is 1,000)
   */
  public static Behavior<Command> create(List<ActorRef<FloorReplica.Append>> followers, int writeQuorum, int maxBatch,
      int valueSize) {
    return Behaviors.setup(ctx -> new FloorLeader(ctx, followers, writeQuorum, maxBatch, valueSize));
  }

  private FloorLeader(ActorContext<Command> context, List<ActorRef<FloorReplica.Append>> followers, int writeQuorum,
      int maxBatch, int valueSize) {
    super(context);
    List<ActorRef<FloorReplica.Append>> all = new ArrayList<>();
    all.add(context.spawn(FloorReplica.create(0), "replica"));
    all.addAll(followers);
    this.replicas = List.copyOf(all);
    this.writeQuorum = writeQuorum;
    this.maxBatch = maxBatch;
    this.value = "v".repeat(valueSize);
    this.sent = new long[replicas.size()];
    this.acked = new long[replicas.size()];
    this.inFlight = new boolean[replicas.size()];
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Acked.class, this::onAcked)
        .onMessage(SetClients.class, this::onSetClients)
        .onMessage(OpenWindow.class, this::onOpenWindow)
        .onMessage(CloseWindow.class, this::onCloseWindow)
        .build();
  }

  private Behavior<Command> onSetClients(SetClients set) {
    targetClients = set.clients();
    if (startNanos.length < targetClients) {
      long[] larger = new long[Integer.highestOneBit(targetClients) * 2];
      for (long i = commitIndex + 1; i <= lastIndex; i++) {
        larger[(int) (i % larger.length)] = startNanos[(int) (i % startNanos.length)];
      }
      startNanos = larger;
    }
    while (activeClients < targetClients) {
      activeClients++;
      append();
    }
    sendToIdle();
    return this;
  }

  private Behavior<Command> onOpenWindow(OpenWindow open) {
    latencies = open.latencies();
    committed = 0;
    appends = 0;
    entriesSent = 0;
    return this;
  }

  private Behavior<Command> onCloseWindow(CloseWindow close) {
    latencies = null;
    close.answer().complete(new Window(committed, appends, entriesSent));
    return this;
  }

  private Behavior<Command> onAcked(Acked ack) {
    int r = ack.replica();
    acked[r] = Math.max(acked[r], ack.upTo());
    inFlight[r] = false;
    long newCommit = Math.min(acked[0], quorumOfFollowers());
    long now = System.nanoTime();
    for (long i = commitIndex + 1; i <= newCommit; i++) {
      if (latencies != null) {
        latencies.record(now - startNanos[(int) (i % startNanos.length)]);
        committed++;
      }
      if (activeClients > targetClients) {
        activeClients--;
      } else {
        append();
      }
    }
    commitIndex = Math.max(commitIndex, newCommit);
    trimLog();
    sendToIdle();
    return this;
  }

  /** The highest index at least {@code writeQuorum} followers hold. */
  private long quorumOfFollowers() {
    long[] followers = Arrays.copyOfRange(acked, 1, acked.length);
    Arrays.sort(followers);
    return followers[followers.length - writeQuorum];
  }

  private void append() {
    lastIndex++;
    log.add(new FloorReplica.Entry("k" + (lastIndex % 1000), value));
    startNanos[(int) (lastIndex % startNanos.length)] = System.nanoTime();
  }

  private void sendToIdle() {
    for (int r = 0; r < replicas.size(); r++) {
      if (!inFlight[r] && sent[r] < lastIndex) {
        long first = sent[r] + 1;
        int count = (int) Math.min(maxBatch, lastIndex - sent[r]);
        int from = (int) (first - logStart);
        List<FloorReplica.Entry> batch = new ArrayList<>(log.subList(from, from + count));
        replicas.get(r).tell(new FloorReplica.Append(first, batch, getContext().getSelf().narrow()));
        inFlight[r] = true;
        sent[r] += count;
        if (r > 0) {
          appends++;
          entriesSent += count;
        }
      }
    }
  }

  /** Drops the entries every replica has been sent, a few thousand at a time. */
  private void trimLog() {
    long lowest = Long.MAX_VALUE;
    for (long s : sent) {
      lowest = Math.min(lowest, s);
    }
    int drop = (int) (lowest + 1 - logStart);
    if (drop >= 4096) {
      log.subList(0, drop).clear();
      logStart += drop;
    }
  }
}
