package quorumkv.node;

import akka.actor.AbstractActor;
import akka.actor.ActorSystem;
import akka.actor.Address;
import akka.actor.Cancellable;
import akka.actor.Props;
import akka.cluster.Cluster;
import akka.cluster.ClusterEvent;
import akka.cluster.DowningProvider;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.remote.artery.ThisActorSystemQuarantinedEvent;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import akka.actor.typed.javadsl.Adapter;
import quorumkv.config.Settings;
import quorumkv.replication.ReplicationStatus;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Cluster membership's downing for quorumkv, where membership only discovers replicas and never
 * decides who leads (the replicas elect the leader among themselves). The rules follow the
 * replication protocol, so that no node shuts itself down for good and no side that still serves
 * writes is ever cut out:
 *
 * <ul>
 *   <li><b>The leader gives up on a member.</b> A member unreachable for {@code
 *       down-unreachable-after} is downed by the node that leads the replicas, if that node reaches
 *       a strict majority of the nodes. Downing lets restarted nodes join (Akka admits a new
 *       incarnation only once the old one is removed, and removes nothing while some member is
 *       unreachable but not down). A side without the leader, or without a majority, downs nobody:
 *       a leader left with its W followers keeps them and keeps serving.
 *   <li><b>A node on its own starts over.</b> A joined node that was part of a majority, and has
 *       since neither led nor heard from a leader for {@code down-unreachable-after} while it
 *       reaches only a minority of the nodes, downs itself: it was most likely downed on the other side (a node back from a pause or a
 *       partition is not told). Its ActorSystem stops, and {@link Main} starts a new incarnation in
 *       the same process that joins again once it can. The same when a member quarantines it.
 * </ul>
 *
 * Nothing is downed because reachability keeps changing (unlike the split-brain resolver's
 * down-all-when-unstable, which once shut down every node after a burst of crashes), and no node
 * process ever exits because of membership.
 */
public final class ReplicaDowning extends DowningProvider {
  private final Duration downAfter;
  private final int clusterSize;

  public ReplicaDowning(ActorSystem system) {
    Settings settings = Settings.from(system.settings().config());
    this.downAfter = settings.downUnreachableAfter();
    this.clusterSize = settings.replication().followers() + 1;
  }

  @Override
  public FiniteDuration downRemovalMargin() {
    return FiniteDuration.Zero(); // no Cluster Singleton or Sharding waits on removals
  }

  @Override
  public Option<Props> downingActorProps() {
    return Option.apply(Props.create(Downer.class, () -> new Downer(downAfter, clusterSize)));
  }

  static final class Downer extends AbstractActor {
    private record Tick() {}

    /** How long a minority view must last before a leaderless node acts on it (not a blip of reachability). */
    private static final Duration MINORITY_SETTLES = Duration.ofSeconds(5);
    /** A gap between two of the 1 s ticks longer than this means this node was paused or starved. */
    private static final Duration PAUSED_AFTER = Duration.ofSeconds(3);

    private final Duration downAfter;
    private final int clusterSize;
    private final Cluster cluster = Cluster.get(getContext().getSystem());
    private final Map<Address, Long> unreachableSince = new HashMap<>();
    private Cancellable ticks;
    /** Since when this node has reached only a minority of the nodes ({@link System#nanoTime}), or -1. */
    private long minoritySince = -1;
    /** Whether this incarnation has reached a strict majority of the nodes at some point. */
    private boolean sawMajority;
    /** When the last tick ran ({@link System#nanoTime}), or 0. */
    private long lastTickNanos;

    Downer(Duration downAfter, int clusterSize) {
      this.downAfter = downAfter;
      this.clusterSize = clusterSize;
    }

    @Override
    public void preStart() {
      cluster.subscribe(getSelf(), ClusterEvent.initialStateAsEvents(),
          ClusterEvent.ReachabilityEvent.class, ClusterEvent.MemberRemoved.class, ClusterEvent.MemberDowned.class);
      getContext().getSystem().eventStream().subscribe(getSelf(), ThisActorSystemQuarantinedEvent.class);
      ticks = getContext().getSystem().scheduler().scheduleWithFixedDelay(Duration.ofSeconds(1), Duration.ofSeconds(1),
          getSelf(), new Tick(), getContext().getDispatcher(), getSelf());
    }

    @Override
    public void postStop() {
      cluster.unsubscribe(getSelf());
      getContext().getSystem().eventStream().unsubscribe(getSelf());
      if (ticks != null) {
        ticks.cancel();
      }
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .match(ClusterEvent.UnreachableMember.class,
              e -> unreachableSince.putIfAbsent(e.member().address(), System.nanoTime()))
          .match(ClusterEvent.ReachableMember.class, e -> unreachableSince.remove(e.member().address()))
          .match(ClusterEvent.MemberRemoved.class, e -> unreachableSince.remove(e.member().address()))
          .match(ClusterEvent.MemberDowned.class, e -> unreachableSince.remove(e.member().address()))
          .match(ThisActorSystemQuarantinedEvent.class, this::onQuarantined)
          .match(Tick.class, t -> downTheLongGone())
          .matchAny(m -> {})
          .build();
    }

    private void onQuarantined(ThisActorSystemQuarantinedEvent e) {
      Address remote = e.remoteAddress().address();
      boolean byMember = false;
      for (Member m : cluster.state().getMembers()) {
        byMember |= m.address().equals(remote);
      }
      if (byMember) {
        getContext().getSystem().log().warning("{} quarantined this node: it was downed while cut off. "
            + "Downing itself to start a new incarnation that joins again", remote);
        cluster.down(cluster.selfAddress());
      }
    }

    private void downTheLongGone() {
      long tickNanos = System.nanoTime();
      boolean wasPaused = lastTickNanos != 0 && tickNanos - lastTickNanos > PAUSED_AFTER.toNanos();
      lastTickNanos = tickNanos;
      if (wasPaused) {
        // This node did not run for a while (SIGSTOP, a stalled VM): what it knows of the others,
        // and whether it still leads, is as old as that. A failover run saw a leader resumed after
        // 10 s down a healthy node at once, its "unreachable for over 20 s" counting its own pause.
        // The clocks start again now; the next ticks decide on fresh gossip.
        unreachableSince.replaceAll((address, since) -> tickNanos);
        minoritySince = -1;
        return;
      }
      Member self = cluster.selfMember();
      if (self.status() != MemberStatus.up() && self.status() != MemberStatus.weaklyUp()) {
        minoritySince = -1;
        return; // not joined yet (or leaving): nothing to decide
      }
      int reachable = 0;
      for (Member m : cluster.state().getMembers()) {
        boolean counts = m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp()
            || m.status() == MemberStatus.joining() || m.status() == MemberStatus.leaving();
        if (counts && !unreachableSince.containsKey(m.address())) {
          reachable++;
        }
      }
      long now = System.nanoTime();
      ReplicationStatus replication = ReplicationStatus.get(Adapter.toTyped(getContext().getSystem()));
      if (replication.leading() && 2 * reachable > clusterSize) {
        for (Map.Entry<Address, Long> e : unreachableSince.entrySet()) {
          if (now - e.getValue() >= downAfter.toNanos()) {
            getContext().getSystem().log().warning(
                "Downing {}: unreachable for over {} s; this node leads and reaches {} of the {} nodes",
                e.getKey(), downAfter.toSeconds(), reachable, clusterSize);
            cluster.down(e.getKey());
          }
        }
      }
      if (2 * reachable > clusterSize) {
        sawMajority = true;
      }
      if (2 * reachable >= clusterSize || !sawMajority) {
        // Only a node that was part of a majority in this incarnation, and lost it, starts over: not
        // one still forming the cluster on a slow start, nor a new incarnation waiting to join.
        minoritySince = -1;
        return;
      }
      if (minoritySince < 0) {
        minoritySince = now;
      }
      boolean noLeaderHeard = !replication.leading()
          && now - replication.lastLeaderContactNanos() >= downAfter.toNanos();
      if (noLeaderHeard && now - minoritySince >= MINORITY_SETTLES.toNanos()) {
        getContext().getSystem().log().warning("This node has reached only {} of the {} nodes and heard from no "
            + "leader for over {} s: downing itself to start a new incarnation that joins again", reachable,
            clusterSize, downAfter.toSeconds());
        minoritySince = -1;
        cluster.down(cluster.selfAddress());
      }
    }
  }
}
