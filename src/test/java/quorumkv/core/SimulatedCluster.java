package quorumkv.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;

/**
 * N nodes, each an {@link Election} core, a replica (promise, log, applied index, {@link
 * LeaderContact}) and, while it leads, a {@link Replication} core (per-replica progress, commit
 * index), joined by a simulated network that delays, drops, reorders, cuts and isolates messages.
 * Deterministic for a seed. The election and leader rules are the cores LeaderActor runs; the
 * replica's rules are those of FollowerActor, in plain Java, so that tests can check the
 * guarantees over thousands of randomized steps.
 */
final class SimulatedCluster {
  static final long TICK_NANOS = 50_000_000L;

  record Entry(long term, long id) {}

  /** Recorded for the invariants. */
  record LeaderElected(long term, int node, long atTick, List<Entry> log) {}

  private sealed interface Message {}

  private record PreVote(int from, long term) implements Message {}

  private record PreVoteReply(int from, long term, boolean granted, long promisedTerm) implements Message {}

  private record Prepare(int from, long term) implements Message {}

  private record Promised(int from, long term, List<Entry> log, long applied) implements Message {}

  private record PrepareRefused(int from, long promisedTerm) implements Message {}

  private record Replicate(int from, long term, long prevIndex, long prevTerm, List<Entry> entries, long commit,
      long sentAtNanos) implements Message {}

  private record Acked(int from, long term, long matchIndex, long sentAtNanos) implements Message {}

  private record Gap(int from, long term, long hint) implements Message {}

  private record Refused(int from, long term, long promisedTerm) implements Message {}

  private record InFlight(long deliverAt, long seq, int to, Message message) {}

  final class Node {
    final int index;
    final String name;
    Election election;
    boolean up = true;
    /** Stopped (SIGSTOP): it keeps its memory, does nothing, and gets what was sent meanwhile on resume. */
    boolean paused;
    final List<Message> heldWhilePaused = new ArrayList<>();
    // replica (durable)
    long promisedTerm;
    int promisedTo = -1;
    final List<Entry> log = new ArrayList<>();
    long applied;
    // replica (in memory)
    LeaderContact contact = new LeaderContact(minTimeoutTicks * TICK_NANOS);
    long contactsSeen;
    /** When this incarnation could first hear a leader (the simulation starts "long ago"). */
    long joinedAtNanos = -minTimeoutTicks * TICK_NANOS;
    /** A member of the cluster in the others' view: they can reach it. */
    boolean joined = true;
    /** The tick at which it learns it has joined (gossip): its election timeout runs from then. */
    long learnsJoinedAt = -1;
    // leader (in memory)
    long leaderTerm;
    List<Entry> leaderLog;
    Replication replication;
    LeaderLease lease;
    final Map<Integer, Promised> promises = new HashMap<>();

    Node(int index) {
      this.index = index;
      this.name = "node" + index;
      this.election = newElection();
      contact.recovered(0);
    }

    Election newElection() {
      return new Election(name, index, n, n - writeQuorum,
          new Election.Timing(minTimeoutTicks, maxTimeoutTicks), new Random(random.nextLong()));
    }

    boolean leads() {
      return leaderLog != null;
    }

    long lastTerm(List<Entry> l) {
      return l.isEmpty() ? 0 : l.get(l.size() - 1).term();
    }
  }

  final int n;
  final int writeQuorum;
  final int minTimeoutTicks;
  final int maxTimeoutTicks;
  final int heartbeatTicks;
  final int resendTicks;
  /** Entries one Replicate carries at most. */
  static final int MAX_BATCH = 8;
  final Random random;
  final List<Node> nodes = new ArrayList<>();
  private final PriorityQueue<InFlight> network =
      new PriorityQueue<>((a, b) -> a.deliverAt != b.deliverAt ? Long.compare(a.deliverAt, b.deliverAt)
          : Long.compare(a.seq, b.seq));
  private long seq;
  long now;
  double dropRate;
  int maxDelayTicks = 2;
  /** Nodes in different groups cannot talk; empty = no partition. */
  private final Map<Integer, Integer> group = new HashMap<>();
  private final Set<Set<Integer>> cutLinks = new HashSet<>();

  // the record of what happened, for the invariants
  final List<LeaderElected> elections = new ArrayList<>();
  final Map<Long, Entry> committed = new HashMap<>();
  /** The term of the leader that committed each entry of {@link #committed}. */
  final Map<Long, Long> committedInTerm = new HashMap<>();
  final Map<Long, Entry> appliedAnywhere = new HashMap<>();
  final List<String> violations = new ArrayList<>();
  /** Steps in which a leader could have served a read from its own state under its lease, and could not. */
  long leaseReads;
  long leaderStepsWithoutLease;
  private long nextEntryId = 1;

  SimulatedCluster(int n, int writeQuorum, long seed) {
    this.n = n;
    this.writeQuorum = writeQuorum;
    this.minTimeoutTicks = 20;
    this.maxTimeoutTicks = 40;
    this.heartbeatTicks = 3;
    this.resendTicks = 10;
    this.random = new Random(seed);
    for (int i = 0; i < n; i++) {
      nodes.add(new Node(i));
    }
  }

  // --- faults ---

  void crash(int i) {
    Node node = nodes.get(i);
    node.up = false;
    node.paused = false;
    node.heldWhilePaused.clear();
    node.leaderLog = null;
    node.replication = null;
    node.promises.clear();
  }

  /** Back with its durable replica; everything in memory starts afresh. */
  void restart(int i) {
    Node node = nodes.get(i);
    node.up = true;
    node.election = node.newElection();
    node.contact = new LeaderContact(minTimeoutTicks * TICK_NANOS);
    node.contact.recovered(node.promisedTerm);
    node.contactsSeen = 0;
    node.joinedAtNanos = now * TICK_NANOS;
  }

  /** A new cluster that node0 has formed alone: the others have not joined yet (see {@link #join}). */
  void unjoinAllButFirst() {
    for (Node node : nodes) {
      if (node.index != 0) {
        node.joined = false;
        node.joinedAtNanos = 0;
      }
    }
    Node first = nodes.get(0);
    first.joinedAtNanos = 0;
    first.learnsJoinedAt = now + 1;
  }

  /**
   * {@code i} joins: the others can reach it at once (a campaign in progress asks it, as LeaderActor
   * does when the receptionist lists a new replica), and it learns it is a member a few ticks later.
   */
  void join(int i) {
    Node node = nodes.get(i);
    node.joined = true;
    node.learnsJoinedAt = now + LEARNS_JOINED_AFTER_TICKS;
    for (Node other : nodes) {
      if (other.index != i && other.up && other.election.role() == Election.Role.PRE_CANDIDATE) {
        send(other.index, i, new PreVote(other.index, other.election.proposedTerm()));
      }
    }
  }

  /** Between a node's joining in the others' view and in its own (a gossip round). */
  static final int LEARNS_JOINED_AFTER_TICKS = 3;

  void pause(int i) {
    nodes.get(i).paused = true;
  }

  void resume(int i) {
    Node node = nodes.get(i);
    node.paused = false;
    if (node.leads()) {
      leaseRead(node); // a client read that waited in its mailbox ahead of what the others sent it
    }
    List<Message> held = List.copyOf(node.heldWhilePaused);
    node.heldWhilePaused.clear();
    for (Message m : held) {
      receive(node, m);
    }
  }

  void partition(Set<Integer> side) {
    group.clear();
    for (int i = 0; i < n; i++) {
      group.put(i, side.contains(i) ? 1 : 0);
    }
  }

  void isolate(int i) {
    partition(Set.of(i));
  }

  /** Cuts the link between two nodes only, both ways (a flaky link). */
  void cut(int a, int b) {
    cutLinks.add(Set.of(a, b));
  }

  void heal() {
    group.clear();
    cutLinks.clear();
  }

  private boolean connected(int a, int b) {
    return a == b || nodes.get(a).joined && nodes.get(b).joined && (!cutLinks.contains(Set.of(a, b)) && (group.isEmpty() || group.get(a).equals(group.get(b))));
  }

  // --- running ---

  void run(long ticks) {
    for (long t = 0; t < ticks; t++) {
      step();
    }
  }

  void step() {
    now++;
    while (!network.isEmpty() && network.peek().deliverAt <= now) {
      InFlight m = network.poll();
      Node to = nodes.get(m.to);
      if (to.up && to.paused) {
        to.heldWhilePaused.add(m.message);
      } else if (to.up) {
        receive(to, m.message);
      }
    }
    for (Node node : nodes) {
      if (node.up && !node.paused) {
        tick(node);
      }
    }
    for (Node node : nodes) {
      if (node.up && !node.paused && node.leads()) {
        leaseRead(node);
      }
    }
  }

  /**
   * A leader read served from this leader's own state, as LeaderActor serves one while its lease
   * holds: no leader of a newer term may exist then, or a write acknowledged by that leader could
   * be missing from the answer.
   */
  private void leaseRead(Node leader) {
    if (!leader.lease.holds(now * TICK_NANOS)) {
      leaderStepsWithoutLease++;
      return;
    }
    leaseReads++;
    for (LeaderElected e : elections) {
      if (e.term() > leader.leaderTerm) {
        violations.add("node" + leader.index + " served a read under its lease of term " + leader.leaderTerm
            + " at tick " + now + ", while node" + e.node() + " was elected in term " + e.term() + " at tick "
            + e.atTick());
      }
    }
  }

  /** The one leader the nodes agree on right now, if any (a deposed leader may still think it leads). */
  Node currentLeader() {
    Node best = null;
    for (Node node : nodes) {
      if (node.up && !node.paused && node.leads() && (best == null || node.leaderTerm > best.leaderTerm)) {
        best = node;
      }
    }
    return best;
  }

  long commitOf(Node leader) {
    return leader.replication.commitIndex();
  }

  /** A client write at the leader, if this node leads: the entry's id, or -1. */
  long write(Node leader) {
    if (!leader.up || leader.paused || !leader.leads()) {
      return -1;
    }
    long id = nextEntryId++;
    leader.leaderLog.add(new Entry(leader.leaderTerm, id));
    leader.replication.appended(now * TICK_NANOS);
    return id;
  }

  private void tick(Node node) {
    if (node.learnsJoinedAt >= 0 && now >= node.learnsJoinedAt) {
      node.learnsJoinedAt = -1;
      node.joinedAtNanos = now * TICK_NANOS;
    }
    if (!node.joined || node.joinedAtNanos == 0) {
      node.election.notReachableYet(); // as LeaderActor does until its node knows it is a member
    }
    if (node.contact.contacts() != node.contactsSeen) {
      node.contactsSeen = node.contact.contacts();
      act(node, node.election.heardFromLeader(node.contact.term(), node.contact.leader()));
    }
    act(node, node.election.observeTerm(node.promisedTerm));
    act(node, node.election.tick());
    if (node.leads()) {
      node.replication.tick(now * TICK_NANOS);
    }
  }

  private void act(Node node, Election.Action action) {
    if (action instanceof Election.AskPreVotes ask) {
      broadcast(node, new PreVote(node.index, ask.term()));
    } else if (action instanceof Election.AskPreVotesAgain again) {
      for (String replica : again.replicas()) {
        send(node.index, Integer.parseInt(replica.substring("node".length())), new PreVote(node.index, again.term()));
      }
    } else if (action instanceof Election.StartCampaign start) {
      node.promises.clear();
      broadcast(node, new Prepare(node.index, start.term()));
    } else if (action instanceof Election.StepDown) {
      node.leaderLog = null;
      node.replication = null;
      node.election = node.newElection(); // the actor restarts; the replica keeps the term
    }
  }

  private void broadcast(Node from, Message m) {
    for (int to = 0; to < n; to++) {
      send(from.index, to, m);
    }
  }

  private void send(int from, int to, Message m) {
    if (from == to) {
      network.add(new InFlight(now, seq++, to, m)); // a node's own replica: no network
      return;
    }
    if (!connected(from, to) || random.nextDouble() < dropRate) {
      return;
    }
    network.add(new InFlight(now + 1 + random.nextInt(maxDelayTicks), seq++, to, m));
  }

  private void receive(Node node, Message m) {
    if (m instanceof PreVote p) {
      send(node.index, p.from(), new PreVoteReply(node.index, p.term(),
          node.contact.grantsPreVote("node" + p.from(), p.term(), node.promisedTerm, now * TICK_NANOS, node.joinedAtNanos),
          node.promisedTerm));
    } else if (m instanceof PreVoteReply r) {
      act(node, node.election.preVoteAnswered("node" + r.from(), r.term(), r.granted(), r.promisedTerm()));
    } else if (m instanceof Prepare p) {
      onPrepare(node, p);
    } else if (m instanceof Promised p) {
      onPromised(node, p);
    } else if (m instanceof PrepareRefused r) {
      act(node, node.election.observeTerm(r.promisedTerm()));
    } else if (m instanceof Replicate r) {
      onReplicate(node, r);
    } else if (m instanceof Acked a) {
      onAcked(node, a);
    } else if (m instanceof Gap g) {
      if (node.leads() && g.term() == node.leaderTerm) {
        node.replication.gap("node" + g.from(), g.hint(), now * TICK_NANOS);
      }
    } else if (m instanceof Refused r) {
      act(node, node.election.observeTerm(r.promisedTerm()));
    }
  }

  // --- the replica's rules (FollowerActor) ---

  private void onPrepare(Node node, Prepare p) {
    boolean again = p.term() == node.promisedTerm && p.from() == node.promisedTo;
    boolean grants = again || p.term() > node.promisedTerm
        && node.contact.grantsPromise("node" + p.from(), now * TICK_NANOS, node.joinedAtNanos);
    if (!grants) {
      send(node.index, p.from(), new PrepareRefused(node.index, node.promisedTerm));
      return;
    }
    node.contact.promised("node" + p.from(), now * TICK_NANOS);
    node.promisedTerm = p.term();
    node.promisedTo = p.from();
    send(node.index, p.from(), new Promised(node.index, p.term(), List.copyOf(node.log), node.applied));
  }

  private void onReplicate(Node node, Replicate r) {
    if (r.term() < node.promisedTerm) {
      send(node.index, r.from(), new Refused(node.index, r.term(), node.promisedTerm));
      return;
    }
    if (r.term() > node.promisedTerm) {
      node.promisedTerm = r.term();
      node.promisedTo = r.from();
    }
    node.contact.heard(r.term(), "node" + r.from(), now * TICK_NANOS);
    // As ReplicaState.matches: applied entries are committed, the same in every log whatever term
    // they are stamped with (a new leader re-stamps what it adopts), so they always match.
    boolean matches = r.prevIndex() <= node.applied
        || (r.prevIndex() <= node.log.size() && node.log.get((int) r.prevIndex() - 1).term() == r.prevTerm());
    if (!matches) {
      long hint = r.prevIndex() > node.log.size() ? node.log.size() : node.applied;
      send(node.index, r.from(), new Gap(node.index, r.term(), hint));
      return;
    }
    long index = r.prevIndex();
    for (Entry e : r.entries()) {
      index++;
      if (index <= node.applied) {
        if (node.log.get((int) index - 1).id() != e.id()) {
          violations.add("node" + node.index + " was sent " + e + " in term " + r.term() + " for its applied entry "
              + index + " " + node.log.get((int) index - 1));
        }
        continue; // as ReplicaState.append: applied entries stay
      }
      if (index <= node.log.size()) {
        if (node.log.get((int) index - 1).term() != e.term()) {
          while (node.log.size() >= index) {
            node.log.remove(node.log.size() - 1);
          }
          node.log.add(e);
        }
      } else {
        node.log.add(e);
      }
    }
    long newApplied = Math.min(r.commit(), index);
    for (long i = node.applied + 1; i <= newApplied; i++) {
      Entry e = node.log.get((int) i - 1);
      Entry before = appliedAnywhere.putIfAbsent(i, e);
      if (before != null && before.id() != e.id()) {
        violations.add("index " + i + " applied as " + before + " and as " + e + " (node" + node.index + ")");
      }
    }
    node.applied = Math.max(node.applied, newApplied);
    send(node.index, r.from(), new Acked(node.index, r.term(), index, r.sentAtNanos()));
  }

  // --- the leader's rules (LeaderActor) ---

  private void onPromised(Node node, Promised p) {
    node.promises.put(p.from(), p);
    Campaign.Promise promise = new Campaign.Promise(
        "node" + p.from(), p.log().size(), node.lastTerm(p.log()), p.applied());
    if (!node.election.promised(p.term(), promise)) {
      return;
    }
    Campaign campaign = node.election.campaign();
    Promised best = node.promises.get(Integer.parseInt(campaign.mostComplete().node().substring(4)));
    List<Entry> adopted = new ArrayList<>(best.log()); // with the terms its entries were written in
    long firstIndexOfTerm = adopted.size() + 1;
    if (adopted.size() > campaign.committedUpTo()) {
      adopted.add(new Entry(campaign.term(), nextEntryId++)); // as WriteCommand.TermStarted
    }
    node.election.becameLeader();
    node.leaderTerm = campaign.term();
    node.leaderLog = adopted;
    node.lease = new LeaderLease(node.name, writeQuorum, LeaderLease.leaseFor(minTimeoutTicks * TICK_NANOS));
    node.replication = new Replication(campaign.committedUpTo(), firstIndexOfTerm, new LeaderLog(node),
        new Replication.Limits(writeQuorum, 1, heartbeatTicks * TICK_NANOS, resendTicks * TICK_NANOS),
        new LeaderOutbox(node, campaign.committedUpTo()));
    elections.add(new LeaderElected(campaign.term(), node.index, now, List.copyOf(adopted)));
    for (int to = 0; to < n; to++) {
      // at once: the others learn of the new leader without waiting a heartbeat
      node.replication.addReplica("node" + to, to == node.index, now * TICK_NANOS);
    }
    for (Map.Entry<Long, Entry> c : committed.entrySet()) {
      long i = c.getKey();
      if (committedInTerm.get(i) > campaign.term()) {
        // Committed by a newer leader while this candidate's promises were on their way (it was
        // paused): such a leader is stale and can commit nothing (Raft's guarantee is for
        // entries committed in earlier terms).
        continue;
      }
      if (i > adopted.size() || adopted.get((int) i - 1).id() != c.getValue().id()) {
        violations.add("leader node" + node.index + " of term " + campaign.term() + " lacks committed entry "
            + i + " " + c.getValue());
      }
    }
  }

  private void onAcked(Node leader, Acked a) {
    if (leader.leads() && a.term() == leader.leaderTerm) {
      leader.lease.answered("node" + a.from(), a.sentAtNanos());
      leader.replication.acked("node" + a.from(), a.matchIndex(), now * TICK_NANOS);
    }
  }

  /** The leader's log as the replication core sees it: every entry retained. */
  private record LeaderLog(Node leader) implements Replication.Log {
    @Override
    public long lastIndex() {
      return leader.leaderLog.size();
    }

    @Override
    public boolean holds(long index) {
      return index >= 1 && index <= leader.leaderLog.size();
    }

    @Override
    public long termAt(long index) {
      return index == 0 ? 0 : holds(index) ? leader.leaderLog.get((int) index - 1).term() : -1;
    }
  }

  /** Sends what the leader's replication core asks for over the simulated network. */
  private final class LeaderOutbox implements Replication.Outbox {
    private final Node leader;
    /** Committed entries up to here are in {@code committed} already. */
    private long recorded;

    LeaderOutbox(Node leader, long committedUpTo) {
      this.leader = leader;
      this.recorded = committedUpTo;
    }

    @Override
    public long sendEntries(String replica, long prevIndex, long prevTerm, long from, long commitIndex) {
      int last = (int) Math.min(leader.leaderLog.size(), from - 1 + MAX_BATCH);
      List<Entry> entries = List.copyOf(leader.leaderLog.subList((int) from - 1, last));
      send(leader.index, indexOf(replica),
          new Replicate(leader.index, leader.leaderTerm, prevIndex, prevTerm, entries, commitIndex, now * TICK_NANOS));
      return last;
    }

    @Override
    public void sendHeartbeat(String replica, long prevIndex, long prevTerm, long commitIndex) {
      send(leader.index, indexOf(replica),
          new Replicate(leader.index, leader.leaderTerm, prevIndex, prevTerm, List.of(), commitIndex,
              now * TICK_NANOS));
    }

    @Override
    public void fetchStateFor(String replica) {
      violations.add("state transfer asked for " + replica + ", but the simulated leader retains its whole log");
    }

    @Override
    public void acknowledged(String replica, boolean local, long fromExclusive, long toInclusive) {}

    @Override
    public void committed(long commitIndex) {
      for (long i = recorded + 1; i <= commitIndex; i++) {
        Entry e = leader.leaderLog.get((int) i - 1);
        Entry before = committed.putIfAbsent(i, e);
        committedInTerm.putIfAbsent(i, leader.leaderTerm);
        if (before != null && before.id() != e.id()) {
          violations.add("index " + i + " committed as " + before + " and as " + e);
        }
      }
      recorded = commitIndex;
    }

    private int indexOf(String replica) {
      return Integer.parseInt(replica.substring("node".length()));
    }
  }

  Set<Long> leaderTermsOf(int node) {
    Set<Long> terms = new HashSet<>();
    for (LeaderElected e : elections) {
      if (e.node() == node) {
        terms.add(e.term());
      }
    }
    return terms;
  }
}
