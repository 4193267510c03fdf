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
import quorumkv.config.Settings;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Cluster membership's downing for quorumkv, where membership only discovers replicas and never
 * decides who leads (the replicas elect the leader among themselves).
 *
 * <ul>
 *   <li>A member unreachable for {@code down-unreachable-after} is taken for dead and downed, so
 *       that restarted nodes can join (Akka admits a new incarnation only once the old one is
 *       removed, and removes nothing while some member is unreachable but not down). Only the
 *       cluster leader of a side that reaches a strict majority of the nodes does this: a
 *       minority downs nobody, so a leader left with its W followers keeps them, and keeps serving.
 *   <li>A node that learns it was quarantined by a member (it was downed on the other side of a
 *       partition that has healed) downs itself. Its ActorSystem then stops, and {@link Main}
 *       starts a new incarnation in the same process that joins again: no node process ever
 *       exits because the cluster declared it down.
 * </ul>
 *
 * Nothing is downed because reachability keeps changing (unlike the split-brain resolver's
 * down-all-when-unstable, which once shut down every node after a burst of crashes).
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

    private final Duration downAfter;
    private final int clusterSize;
    private final Cluster cluster = Cluster.get(getContext().getSystem());
    private final Map<Address, Long> unreachableSince = new HashMap<>();
    private Cancellable ticks;

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
      if (unreachableSince.isEmpty() || !cluster.selfAddress().equals(cluster.state().getLeader())) {
        return;
      }
      int reachable = 0;
      for (Member m : cluster.state().getMembers()) {
        boolean counts = m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp()
            || m.status() == MemberStatus.joining() || m.status() == MemberStatus.leaving();
        if (counts && !unreachableSince.containsKey(m.address())) {
          reachable++;
        }
      }
      if (2 * reachable <= clusterSize) {
        return; // a minority (or half) never downs anyone
      }
      long now = System.nanoTime();
      for (Map.Entry<Address, Long> e : unreachableSince.entrySet()) {
        if (now - e.getValue() >= downAfter.toNanos()) {
          getContext().getSystem().log().warning("Downing {}: unreachable for over {} s, seen from {} of the {} nodes",
              e.getKey(), downAfter.toSeconds(), reachable, clusterSize);
          cluster.down(e.getKey());
        }
      }
    }
  }
}
