package quorumkv.node;

import akka.actor.AbstractActor;
import akka.actor.ActorSystem;
import akka.actor.Address;
import akka.actor.AddressFromURIString;
import akka.actor.Cancellable;
import akka.actor.DeadLetterSuppression;
import akka.actor.Props;
import akka.cluster.Cluster;
import akka.cluster.ClusterEvent;
import akka.cluster.DowningProvider;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.remote.artery.ThisActorSystemQuarantinedEvent;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import akka.actor.typed.javadsl.Adapter;
import quorumkv.CborSerializable;
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
 *       unreachable but not down). A side without a majority downs nobody, nor does a side
 *       without the leader unless restarted nodes wait (next rule): a leader left with its W
 *       followers keeps them and keeps serving.
 *   <li><b>A restarted node counts.</b> A node's new incarnation is kept out while its old one
 *       waits for removal, and nothing is removed while other members are unreachable and not
 *       down. So after the leader and two followers crash (six nodes, W=3), one of them restarted
 *       would never be let in while the other two stay dead: the three survivors are no majority,
 *       and writes would wait for ever with four nodes alive. A node not yet let in therefore tells
 *       the others every second that it is alive ({@link Returning}), with the members that
 *       answered its last messages ({@link Heard}); a node counts it among the nodes it reaches
 *       only if it reaches every one of those members. A restarted node that reaches both sides of
 *       a partition is thus counted by neither, and two sides can never both count a majority.
 *       While restarted nodes wait, members unreachable for half of {@code down-unreachable-after}
 *       are downed. When restarted nodes wait and the side that reaches a majority has no leader
 *       (four nodes crashed, two of them restarted: the two survivors cannot elect one), the
 *       cluster's own leader among the reachable members downs instead, once no leader was heard
 *       of for that long.
 *   <li><b>A first seed on an island starts over.</b> The first seed forms a cluster by itself when
 *       no other seed answers it within seed-node-timeout; restarted while the others were slow, it
 *       stayed alone for good. While its cluster has never held a majority it asks the other seeds
 *       every second ({@link AnyoneElse}); one that is up in a majority without it says so, and it
 *       downs itself to start a new incarnation that joins them.
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
  /** Where Akka's cluster daemon starts the downing actor, on every node. */
  static final String DOWNER_PATH = "/system/cluster/core/daemon/downingProvider";

  /**
   * Sent every second by a node that is not (yet) a member to the downing actors of the seed
   * nodes, which pass it on ({@code relayed}) to the other members they reach: {@code address} is
   * alive, and {@code heardBy} are the members that answered it lately.
   */
  public record Returning(String address, boolean relayed, List<String> heardBy)
      implements CborSerializable, DeadLetterSuppression {}

  /** A member's answer to {@link Returning}. */
  public record Heard(String member) implements CborSerializable, DeadLetterSuppression {}

  /**
   * Sent every second by a first seed node whose cluster has never held a majority of the nodes,
   * to the other seeds: is there a cluster without it? {@code uid} tells this incarnation from an
   * earlier one at the same address.
   */
  public record AnyoneElse(String address, long uid) implements CborSerializable, DeadLetterSuppression {}

  /** The answer to {@link AnyoneElse} of a node that is up in a cluster of {@code members} nodes that lacks the asker. */
  public record ClusterWithoutYou(String member, int members) implements CborSerializable, DeadLetterSuppression {}

  private final Duration downAfter;
  private final int clusterSize;
  private final List<Address> seedNodes;

  public ReplicaDowning(ActorSystem system) {
    Settings settings = Settings.from(system.settings().config());
    this.downAfter = settings.downUnreachableAfter();
    this.clusterSize = settings.replication().followers() + 1;
    this.seedNodes = seedAddresses(system.name(), settings.seedNodes());
  }

  /**
   * The seed nodes of the settings ({@code host:port}, in order) as addresses of the actor system
   * {@code systemName}. Not Akka's own seed list: the first incarnation of the first seed of a new
   * cluster is given only itself there ({@link Main#clusterConfig}), and it must still know whom to
   * ask whether a cluster without it is up.
   */
  static List<Address> seedAddresses(String systemName, List<String> hostPorts) {
    return hostPorts.stream().map(s -> AddressFromURIString.parse("akka://" + systemName + "@" + s)).toList();
  }

  @Override
  public FiniteDuration downRemovalMargin() {
    return FiniteDuration.Zero(); // no Cluster Singleton or Sharding waits on removals
  }

  @Override
  public Option<Props> downingActorProps() {
    return Option.apply(Props.create(Downer.class, () -> new Downer(downAfter, clusterSize, seedNodes)));
  }

  /** A strict majority of the {@code clusterSize} nodes: the members reached and the returning nodes counted. */
  static boolean majority(int reachableMembers, int returning, int clusterSize) {
    return 2 * (reachableMembers + returning) > clusterSize;
  }

  /**
   * The returning nodes a side that reaches the members {@code reached} counts: those whose
   * members that answered them ({@code heardBys}, one set per returning node) are all reached,
   * and are not none. A returning node heard by members of two sides of a partition counts on
   * neither, so two sides never count the same one.
   */
  static <A> int countReturning(Set<A> reached, Collection<Set<A>> heardBys) {
    int count = 0;
    for (Set<A> heardBy : heardBys) {
      if (!heardBy.isEmpty() && reached.containsAll(heardBy)) {
        count++;
      }
    }
    return count;
  }

  static final class Downer extends AbstractActor {
    private record Tick() {}

    /** A returning node's last {@link Returning}: when it came, and the members that had answered it. */
    private record Seen(long atNanos, Set<Address> heardBy) {}

    /** How long a minority view must last before a leaderless node acts on it (not a blip of reachability). */
    private static final Duration MINORITY_SETTLES = Duration.ofSeconds(5);
    /** A gap between two of the 1 s ticks longer than this means this node was paused or starved. */
    private static final Duration PAUSED_AFTER = Duration.ofSeconds(3);
    /** A returning node is counted this long after its last {@link Returning} (it sends one a second). */
    private static final Duration RETURNING_FRESH = Duration.ofSeconds(3);

    private final Duration downAfter;
    private final int clusterSize;
    private final Cluster cluster = Cluster.get(getContext().getSystem());
    private final Set<Address> seedNodes;
    /** Whether this node is the first seed: the only one that forms a cluster by itself. */
    private final boolean isFirstSeed;
    private final Map<Address, Long> unreachableSince = new HashMap<>();
    /** What each node not (yet) let in last said: when, and which members answered it. */
    private final Map<Address, Seen> returningSeen = new HashMap<>();
    /** While this node is not a member: the members that answered its {@link Returning}, and when. */
    private final Map<Address, Long> heardBy = new HashMap<>();
    private Cancellable ticks;
    /** Since when this node has reached only a minority of the nodes ({@link System#nanoTime}), or -1. */
    private long minoritySince = -1;
    /** Whether this incarnation has reached a strict majority of the nodes at some point. */
    private boolean sawMajority;
    /** Whether this first seed has downed itself for a cluster without it (one answer is enough). */
    private boolean downingItself;
    /** When the last tick ran ({@link System#nanoTime}), or 0. */
    private long lastTickNanos;

    Downer(Duration downAfter, int clusterSize, List<Address> seedNodes) {
      this.downAfter = downAfter;
      this.clusterSize = clusterSize;
      this.seedNodes = Set.copyOf(seedNodes);
      this.isFirstSeed = !seedNodes.isEmpty() && seedNodes.get(0).equals(cluster.selfAddress());
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
          .match(Returning.class, this::onReturning)
          .match(Heard.class, h -> heardBy.put(AddressFromURIString.parse(h.member()), System.nanoTime()))
          .match(AnyoneElse.class, this::onAnyoneElse)
          .match(ClusterWithoutYou.class, this::onClusterWithoutYou)
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

    private void onReturning(Returning r) {
      Address address = AddressFromURIString.parse(r.address());
      if (address.equals(cluster.selfAddress()) || !counts(cluster.selfMember())) {
        return; // only members vouch for a returning node
      }
      Set<Address> answered = new HashSet<>();
      r.heardBy().forEach(a -> answered.add(AddressFromURIString.parse(a)));
      returningSeen.put(address, new Seen(System.nanoTime(), answered));
      getContext().actorSelection(address + DOWNER_PATH).tell(new Heard(cluster.selfAddress().toString()), getSelf());
      if (!r.relayed()) {
        // The seed nodes have it from the returning node itself (with ./kv and docker-compose every
        // node is one); the other members get it from here.
        Returning relayed = new Returning(r.address(), true, r.heardBy());
        for (Member m : cluster.state().getMembers()) {
          if (counts(m) && !seedNodes.contains(m.address()) && !m.address().equals(cluster.selfAddress())
              && !unreachableSince.containsKey(m.address())) {
            getContext().actorSelection(m.address() + DOWNER_PATH).tell(relayed, getSelf());
          }
        }
      }
    }

    /**
     * A first seed asks whether this node is in a cluster without it: it answers when this node
     * is up and its members, counted as reachable, are a strict majority of the nodes and hold no
     * member with the asker's address and uid (an earlier incarnation of the asker may still be
     * listed until it is removed).
     */
    private void onAnyoneElse(AnyoneElse a) {
      if (!joined(cluster.selfMember())) {
        return;
      }
      Address asker = AddressFromURIString.parse(a.address());
      for (Member m : cluster.state().getMembers()) {
        if (m.address().equals(asker) && m.uniqueAddress().longUid() == a.uid()) {
          return; // the asker is one of us
        }
      }
      int reached = reachedMembers().size();
      if (majority(reached, 0, clusterSize)) {
        getContext().actorSelection(asker + DOWNER_PATH).tell(
            new ClusterWithoutYou(cluster.selfAddress().toString(), reached), getSelf());
      }
    }

    /**
     * The first seed formed a cluster of its own (it restarted while no other seed answered within
     * seed-node-timeout: a nemesis run saw node0's new incarnation alone in its cluster for good,
     * its replica never caught up, while the five others served writes), and a majority of the
     * nodes is up in another: it downs itself, and {@link Main}'s next incarnation asks the seeds
     * to join again, which they now answer.
     */
    private void onClusterWithoutYou(ClusterWithoutYou c) {
      if (firstSeedAlone() && !downingItself) {
        downingItself = true;
        getContext().getSystem().log().warning("This node formed a cluster of its own, and {} is up in a cluster of {} "
            + "of the {} nodes without it: downing itself to start a new incarnation that joins them", c.member(),
            c.members(), clusterSize);
        cluster.down(cluster.selfAddress());
      }
    }

    /** This node is the first seed, up in a cluster that has never held a majority of the nodes. */
    private boolean firstSeedAlone() {
      return !sawMajority && isFirstSeed && joined(cluster.selfMember())
          && !majority(cluster.state().members().size(), 0, clusterSize);
    }

    /** Up (or weakly up): let into the cluster, not leaving it. */
    private static boolean joined(Member m) {
      return m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp();
    }

    /** The members this node counts as reached: in the cluster and not unreachable from here. */
    private Set<Address> reachedMembers() {
      Set<Address> reached = new HashSet<>();
      for (Member m : cluster.state().getMembers()) {
        if (counts(m) && !unreachableSince.containsKey(m.address())) {
          reached.add(m.address());
        }
      }
      return reached;
    }

    /** Not a member (yet): tells the seed nodes that this node is alive, for {@link #returningNodes}. */
    private void announce() {
      long now = System.nanoTime();
      heardBy.values().removeIf(at -> now - at > RETURNING_FRESH.toNanos());
      tellOtherSeeds(new Returning(cluster.selfAddress().toString(), false,
          heardBy.keySet().stream().map(Address::toString).sorted().toList()));
    }

    private void tellOtherSeeds(Object message) {
      for (Address seed : seedNodes) {
        if (!seed.equals(cluster.selfAddress())) {
          getContext().actorSelection(seed + DOWNER_PATH).tell(message, getSelf());
        }
      }
    }

    private static boolean counts(Member m) {
      return joined(m)
          || m.status() == MemberStatus.joining() || m.status() == MemberStatus.leaving();
    }

    /**
     * Members this node does not count as reached (down, or unreachable) whose address said
     * lately that it is alive (a new incarnation waiting for the old one's removal), counted as
     * {@link #countReturning} says.
     */
    private int returningNodes(Set<Address> reached, long now) {
      returningSeen.values().removeIf(seen -> now - seen.atNanos() > RETURNING_FRESH.toNanos());
      Map<Address, Set<Address>> returning = new HashMap<>();
      for (Member m : cluster.state().getMembers()) {
        Seen seen = returningSeen.get(m.address());
        if (!reached.contains(m.address()) && seen != null) {
          returning.put(m.address(), seen.heardBy());
        }
      }
      return countReturning(reached, returning.values());
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
      if (self.status() == MemberStatus.removed()) {
        announce();
      } else {
        heardBy.clear();
      }
      if (!joined(self)) {
        minoritySince = -1;
        return; // not joined yet (or leaving): nothing to decide
      }
      if (firstSeedAlone()) {
        tellOtherSeeds(new AnyoneElse(cluster.selfAddress().toString(), self.uniqueAddress().longUid()));
      }
      Set<Address> reached = reachedMembers();
      int reachable = reached.size();
      long now = System.nanoTime();
      int returning = returningNodes(reached, now);
      ReplicationStatus replication = ReplicationStatus.get(Adapter.toTyped(getContext().getSystem()));
      boolean noLeaderHeard = !replication.leading()
          && now - replication.lastLeaderContactNanos() >= downAfter.toNanos();
      // Restarted nodes kept out cost the cluster their replicas (and, below W + 1 members, its
      // writes), while downing a member that is only slow costs that member a restart: with nodes
      // waiting, half the time is waited.
      long after = returning > 0 ? downAfter.toNanos() / 2 : downAfter.toNanos();
      // Without a leader, restarted nodes waiting to be let in may be what it takes to elect one.
      boolean letThemIn = returning > 0 && !replication.leading()
          && now - replication.lastLeaderContactNanos() >= after
          && cluster.selfAddress().equals(cluster.state().getLeader());
      if ((replication.leading() || letThemIn) && majority(reachable, returning, clusterSize)) {
        for (Map.Entry<Address, Long> e : unreachableSince.entrySet()) {
          if (now - e.getValue() >= after) {
            String reaches = (reachable + returning) + " of the " + clusterSize + " nodes"
                + (returning == 0 ? "" : " (" + returning + " of them restarted and waiting to be let in)");
            getContext().getSystem().log().warning("Downing {}: unreachable for over {} s; this node {} and reaches {}",
                e.getKey(), after / 1_000_000_000L, replication.leading() ? "leads" : "heard from no leader", reaches);
            cluster.down(e.getKey());
          }
        }
      }
      if (2 * reachable > clusterSize) {
        sawMajority = true;
      }
      if (2 * (reachable + returning) >= clusterSize || !sawMajority) {
        // Only a node that was part of a majority in this incarnation, and lost it, starts over: not
        // one still forming the cluster on a slow start, nor a new incarnation waiting to join.
        minoritySince = -1;
        return;
      }
      if (minoritySince < 0) {
        minoritySince = now;
      }
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
