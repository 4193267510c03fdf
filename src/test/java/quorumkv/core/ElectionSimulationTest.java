package quorumkv.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.Test;

/**
 * The election and replication rules driven through a simulated network of six nodes, with fixed
 * seeds: each test is named after the guarantee it checks.
 */
public class ElectionSimulationTest {
  private static final int N = 6;

  @Test
  public void atMostOneLeaderPerTerm() {
    for (long seed = 1; seed <= 20; seed++) {
      SimulatedCluster c = randomFaults(seed, 3);
      Map<Long, Integer> leaderOfTerm = new HashMap<>();
      for (SimulatedCluster.LeaderElected e : c.elections) {
        Integer before = leaderOfTerm.putIfAbsent(e.term(), e.node());
        assertTrue("seed " + seed + ": term " + e.term() + " led by node" + before + " and node" + e.node(),
            before == null);
        assertEquals("seed " + seed + ": node" + e.node() + " led term " + e.term() + " that is not its own",
            e.node(), Terms.owner(e.term(), N));
      }
      assertTrue("seed " + seed + ": no leader at all", !c.elections.isEmpty());
      long leading = c.nodes.stream().filter(SimulatedCluster.Node::leads).count();
      assertEquals("seed " + seed + ": nodes that think they lead once everything healed", 1, leading);
    }
  }

  @Test
  public void aCandidateThatSeesANewerTermWhileAdoptingGivesUpItsRound() {
    Election e = new Election("node1", 1, N, 3, new Election.Timing(2, 4), new Random(1));
    long term = untilPreVotesAsked(e);
    Election.Action a = null;
    for (String n : new String[] {"node1", "node2", "node3"}) {
      a = e.preVoteAnswered(n, term, true, 0);
    }
    assertTrue(a instanceof Election.StartCampaign);
    for (String n : new String[] {"node1", "node2", "node3"}) {
      e.promised(term, new Campaign.Promise(n, 0, 0, 0));
    }
    assertEquals(Election.Role.ADOPTING, e.role());
    e.observeTerm(term + 1); // another candidate won a newer term meanwhile
    assertEquals(Election.Role.FOLLOWER, e.role());
  }

  @Test
  public void aFollowerThatSeesANewerTermWaitsAWholeTimeoutBeforeCampaigning() {
    // Raft's rule: granting a vote restarts the election timeout. Here the follower learns of it
    // through its replica's promised term (or a refusal naming a newer term).
    Election e = new Election("node3", 3, N, 3, new Election.Timing(10, 12), new Random(1));
    for (int i = 0; i < 9; i++) {
      assertTrue(e.tick() instanceof Election.Nothing);
    }
    e.observeTerm(6); // its replica promised term 6 to node0
    assertEquals(Election.Role.FOLLOWER, e.role());
    for (int i = 0; i < 9; i++) {
      assertTrue("tick " + (10 + i) + ": campaigned over term 6 before a timeout had passed",
          e.tick() instanceof Election.Nothing);
    }
    assertTrue(untilPreVotesAsked(e) > 6);
  }

  @Test
  public void aPreCandidateGivesUpItsRoundWhenARivalCampaignsInATermNewerThanItKnew() {
    Election e = new Election("node5", 5, N, 3, new Election.Timing(2, 4), new Random(1));
    long proposed = untilPreVotesAsked(e);
    long rivals = proposed - 1; // terms are spaced by node: a rival's next term can be below ours
    assertTrue(rivals > e.term());
    e.observeTerm(rivals); // e.g. this node's own replica promised it to the rival
    assertEquals(Election.Role.FOLLOWER, e.role());
    // pre-votes for the abandoned round no longer start a campaign
    for (String n : new String[] {"node5", "node2", "node3"}) {
      assertTrue(e.preVoteAnswered(n, proposed, true, rivals) instanceof Election.Nothing);
    }
    assertEquals(Election.Role.FOLLOWER, e.role());
  }

  @Test
  public void aNewClustersFirstLeaderIsSeldomDeposedByARivalCampaign() {
    // Before a pre-candidate gave up its round on seeing a rival's newer (but lower than its own
    // proposal) term, 63 of these 200 new clusters elected a second leader right after the first
    // (54 when the nodes joined one by one), as `./kv up` saw in about half of its new starts and
    // WatchIT once in a fresh-clone verify; with it, 40 and 30. Since a follower waits a timeout
    // after a newer term and a replica that promised a term grants rivals no pre-vote for a while
    // (2026-12-01), 18 and 29: the rest are rivals that both got their pre-votes before any
    // promise was made.
    int seeds = 200;
    int atOnce = 0;
    int oneByOne = 0;
    for (long seed = 1; seed <= seeds; seed++) {
      SimulatedCluster c = new SimulatedCluster(N, 3, seed);
      c.unjoinAllButFirst();
      c.run(3);
      for (int i = 1; i < N; i++) {
        c.join(i);
      }
      c.run(6L * c.maxTimeoutTicks);
      assertNotNull("seed " + seed + ": a leader", c.currentLeader());
      assertTrue("seed " + seed + ": " + c.violations, c.violations.isEmpty());
      atOnce += c.elections.size() > 1 ? 1 : 0;

      SimulatedCluster d = new SimulatedCluster(N, 3, seed);
      d.unjoinAllButFirst();
      d.run(d.maxTimeoutTicks);
      d.join(1);
      d.run(d.maxTimeoutTicks);
      d.join(2);
      d.run(2);
      for (int i = 3; i < N; i++) {
        d.join(i);
      }
      d.run(6L * d.maxTimeoutTicks);
      assertNotNull("seed " + seed + ": a leader", d.currentLeader());
      oneByOne += d.elections.size() > 1 ? 1 : 0;
    }
    assertTrue(atOnce + " of " + seeds + " new clusters (all joining at once) elected more than once",
        atOnce <= seeds / 8);
    assertTrue(oneByOne + " of " + seeds + " new clusters (joining one by one) elected more than once",
        oneByOne <= seeds / 4);
  }

  @Test
  public void aCommittedEntryIsInEveryLaterLeadersLogAndAppliedIdenticallyEverywhere() {
    // 100 runs per W: a re-stamping bug (fixed 2026-11-30) lost a committed entry in about 1 run
    // of 70 at W = 4 and 5, and 1 of 500 at W = 3.
    for (int w = 1; w <= 5; w++) {
      int idle = 0;
      for (long seed = 1; seed <= 100; seed++) {
        SimulatedCluster c = randomFaults(seed * 31 + w, w);
        assertEquals("W=" + w + " seed " + seed + ": " + c.violations, 0, c.violations.size());
        if (c.committed.size() <= 10) {
          idle++; // at W = 4 and 5, crashes and partitions can leave too few replicas for a whole run
        }
      }
      assertTrue("W=" + w + ": " + idle + " of 100 runs committed (almost) nothing", idle <= 10);
    }
  }

  @Test
  public void aNewLeaderIsElectedWithinAFewElectionTimeoutsAfterTheLeaderCrashes() {
    for (long seed = 1; seed <= 10; seed++) {
      SimulatedCluster c = new SimulatedCluster(N, 3, seed);
      SimulatedCluster.Node first = awaitLeader(c, 200);
      c.crash(first.index);
      long crashedAt = c.now;
      SimulatedCluster.Node next = awaitLeaderAfter(c, first.leaderTerm, 4 * c.maxTimeoutTicks);
      assertTrue("seed " + seed + ": elected " + (c.now - crashedAt) + " ticks after the crash",
          c.now - crashedAt <= 3L * c.maxTimeoutTicks);
    }
  }

  @Test
  public void aLeaderThatReachesWFollowersKeepsCommitting() {
    SimulatedCluster c = new SimulatedCluster(N, 1, 7);
    SimulatedCluster.Node leader = settledLeader(c);
    int electionsBefore = c.elections.size();
    int killed = 0;
    for (SimulatedCluster.Node n : c.nodes) {
      if (n != leader && killed < 4) {
        c.crash(n.index);
        killed++;
      }
    }
    long commitBefore = c.commitOf(leader);
    for (int i = 0; i < 400; i++) {
      if (i % 5 == 0) {
        c.write(leader);
      }
      c.step();
    }
    assertTrue("the leader still leads", leader.leads());
    assertEquals("no other election", electionsBefore, c.elections.size());
    long commitAfter = c.commitOf(leader);
    assertTrue("commit index moved from " + commitBefore + " to " + commitAfter, commitAfter >= commitBefore + 70);
  }

  @Test
  public void aCandidateWithoutNMinusWPromisesServesNothing() {
    SimulatedCluster c = new SimulatedCluster(N, 3, 11); // N − W = 3 promises needed
    SimulatedCluster.Node leader = settledLeader(c);
    int elections = c.elections.size();
    c.crash(leader.index);
    int killed = 0;
    for (SimulatedCluster.Node n : c.nodes) {
      if (n != leader && killed < 3) {
        c.crash(n.index);
        killed++;
      }
    }
    // four of six down, two left: neither may lead
    c.run(1000);
    assertEquals("no new leader with 2 live nodes of 6", elections, c.elections.size());
    assertNull(c.currentLeader());
    // one more back: three live nodes suffice
    for (SimulatedCluster.Node n : c.nodes) {
      if (!n.up && n != leader) {
        c.restart(n.index);
        break;
      }
    }
    assertNotNull(awaitLeader(c, 4 * c.maxTimeoutTicks));
  }

  @Test
  public void aNodeBackFromAPartitionDoesNotDeposeAWorkingLeader() {
    SimulatedCluster c = new SimulatedCluster(N, 3, 5);
    SimulatedCluster.Node leader = settledLeader(c);
    int electionsBefore = c.elections.size();
    int isolated = (leader.index + 1) % N;
    c.isolate(isolated);
    c.run(20L * c.maxTimeoutTicks); // it campaigns again and again, alone
    assertTrue("the isolated node tried", c.nodes.get(isolated).election.proposedTerm() > leader.leaderTerm);
    c.heal();
    c.run(20L * c.maxTimeoutTicks);
    assertTrue("the leader still leads", leader.leads());
    assertEquals("no election after the heal", electionsBefore, c.elections.size());
    assertEquals("the returned node follows the leader", "node" + leader.index,
        c.nodes.get(isolated).election.leader());
  }

  @Test
  public void aNodeThatCannotHearTheLeaderDoesNotDeposeIt() {
    SimulatedCluster c = new SimulatedCluster(N, 3, 9);
    SimulatedCluster.Node leader = settledLeader(c);
    int electionsBefore = c.elections.size();
    int flaky = (leader.index + 2) % N;
    c.cut(leader.index, flaky); // it still reaches every other node, which still hear the leader
    c.run(20L * c.maxTimeoutTicks);
    assertTrue("the cut-off node asked for pre-votes", c.nodes.get(flaky).election.proposedTerm() > leader.leaderTerm);
    assertTrue("the leader still leads", leader.leads());
    assertEquals("no election: the others refuse pre-votes while they hear the leader", electionsBefore,
        c.elections.size());
  }

  @Test
  public void aDeposedLeadersUncommittedEntriesAreNeverApplied() {
    SimulatedCluster c = new SimulatedCluster(N, 3, 3);
    SimulatedCluster.Node old = settledLeader(c);
    int buddy = (old.index + 1) % N;
    c.partition(Set.of(old.index, buddy)); // two of six: the old leader cannot commit (needs W + 1 = 4)
    Set<Long> written = new HashSet<>();
    for (int i = 0; i < 20; i++) {
      written.add(c.write(old));
      c.step();
    }
    awaitLeaderAfter(c, old.leaderTerm, 4 * c.maxTimeoutTicks);
    SimulatedCluster.Node next = settledLeader(c);
    assertTrue(next != old);
    int committedBefore = c.committed.size();
    c.heal();
    c.run(200);
    for (int i = 0; i < 20; i++) {
      c.write(next);
      c.step();
    }
    c.run(50);
    assertTrue("the old leader stepped down", !old.leads());
    assertTrue("the new leader still leads", next.leads());
    for (SimulatedCluster.Entry applied : c.appliedAnywhere.values()) {
      assertTrue("applied an entry the deposed leader wrote while cut off: " + applied,
          !written.contains(applied.id()));
    }
    assertEquals(c.violations.toString(), 0, c.violations.size());
    assertEquals("the new leader's writes committed", committedBefore + 20, c.committed.size());
  }

  /** A leader after the start-up has settled (two candidates may both win their own terms at first). */
  private static SimulatedCluster.Node settledLeader(SimulatedCluster c) {
    awaitLeader(c, 200);
    c.run(4L * c.maxTimeoutTicks);
    SimulatedCluster.Node leader = c.currentLeader();
    assertNotNull(leader);
    return leader;
  }

  @Test
  public void aNodeWhoseCampaignGotNoPromisesFollowsALiveLeaderOfALowerTerm() {
    // node3 won pre-votes and proposed a term, but no promise came (its replica was still
    // recovering, say). Meanwhile node1 leads a lower term, and node3's replica accepts its
    // messages: node3 must follow node1, not campaign again and again while node1's followers
    // refuse it pre-votes.
    Election e = new Election("node3", 3, N, 3, new Election.Timing(2, 4), new Random(1));
    long proposed = untilPreVotesAsked(e);
    e.preVoteAnswered("node3", proposed, true, 0);
    e.preVoteAnswered("node4", proposed, true, 0);
    assertTrue(e.preVoteAnswered("node5", proposed, true, 0) instanceof Election.StartCampaign);
    long lowerTerm = 1;
    assertTrue(lowerTerm < proposed && Terms.owner(lowerTerm, N) == 1);

    e.heardFromLeader(lowerTerm, "node1");
    assertEquals(Election.Role.FOLLOWER, e.role());
    assertEquals("node1", e.leader());
    assertEquals(lowerTerm, e.leaderTerm());
    for (int i = 0; i < 100; i++) {
      assertTrue("tick " + i + ": campaigned while hearing its leader", e.tick() instanceof Election.Nothing);
      e.heardFromLeader(lowerTerm, "node1");
    }
    // The leader goes quiet: the next campaign proposes a term above everything seen.
    assertTrue(untilPreVotesAsked(e) > proposed);
  }

  @Test
  public void aLeaderThatHearsOfANewerTermInALatePreVoteAnswerStepsDown() {
    Election e = new Election("node0", 0, N, 3, new Election.Timing(2, 4), new Random(1));
    long term = untilPreVotesAsked(e);
    e.preVoteAnswered("node0", term, true, 0);
    e.preVoteAnswered("node1", term, true, 0);
    assertTrue(e.preVoteAnswered("node2", term, true, 0) instanceof Election.StartCampaign);
    for (String n : new String[] {"node0", "node1", "node2"}) {
      e.promised(term, new Campaign.Promise(n, 0, 0, 0));
    }
    e.becameLeader();
    assertTrue(e.preVoteAnswered("node3", term, false, term + 5) instanceof Election.StepDown);
  }

  @Test
  public void aPreCandidateAsksAgainWithinItsRoundTheReplicasThatRefusedForNow() {
    // A long round (20..20 ticks) so that the asking again is not a new round.
    Election e = new Election("node0", 0, N, 3, new Election.Timing(20, 20), new Random(1));
    long term = untilPreVotesAsked(e);
    e.preVoteAnswered("node0", term, true, 0);
    e.preVoteAnswered("node1", term, false, 0); // not joined long enough, or heard a leader: for now
    Election.Action a = null;
    int ticks = 0;
    while (!(a instanceof Election.AskPreVotesAgain)) {
      a = e.tick();
      ticks++;
      assertTrue("no asking again within " + ticks + " ticks", ticks <= Election.ASK_AGAIN_EVERY_TICKS);
    }
    assertEquals(Election.Role.PRE_CANDIDATE, e.role());
    assertEquals(term, ((Election.AskPreVotesAgain) a).term());
    assertEquals(Set.of("node1"), ((Election.AskPreVotesAgain) a).replicas());
    e.preVoteAnswered("node1", term, true, 0);
    assertTrue(e.preVoteAnswered("node3", term, true, 0) instanceof Election.StartCampaign);

    // A refusal for a newer promise ends the round instead: nobody is asked again.
    Election lost = new Election("node0", 0, N, 3, new Election.Timing(20, 20), new Random(1));
    long lostTerm = untilPreVotesAsked(lost);
    lost.preVoteAnswered("node2", lostTerm, false, lostTerm + 1);
    assertEquals(Election.Role.FOLLOWER, lost.role());
    for (int i = 0; i < 19; i++) {
      assertTrue(lost.tick() instanceof Election.Nothing);
    }
  }

  @Test
  public void aNewClusterWhoseNodesJoinOneByOneElectsItsLeaderSoonAfterTheThirdJoins() {
    // The replicas of a new cluster never answered a leader: they need not wait a minimum election
    // timeout after joining before they help a candidate (LeaderContact), and a candidate asks
    // again within its round those that refused for now. So the leader can come within a few
    // message delays of the third node's knowing it joined, where waiting would take a minimum
    // election timeout. Two candidates can still split the first round now and then.
    int soon = 0;
    int seeds = 20;
    for (long seed = 1; seed <= seeds; seed++) {
      SimulatedCluster c = new SimulatedCluster(N, 3, seed);
      c.unjoinAllButFirst(); // node0 formed the cluster; the others join later, in turn
      c.run(c.maxTimeoutTicks);
      c.join(1);
      c.run(c.maxTimeoutTicks);
      c.join(2);
      int bound = SimulatedCluster.LEARNS_JOINED_AFTER_TICKS + c.minTimeoutTicks / 2;
      c.run(bound);
      if (c.currentLeader() != null) {
        soon++;
      }
      c.run(3L * c.maxTimeoutTicks);
      assertNotNull("seed " + seed + ": no leader three maximum election timeouts after the third node joined",
          c.currentLeader());
    }
    assertTrue(soon + " of " + seeds + " runs had a leader within half a minimum election timeout of the third "
        + "node's joining", soon >= seeds * 3 / 4);
  }

  /** Ticks {@code e} until its election timeout makes it ask for pre-votes; the term it asks for. */
  private static long untilPreVotesAsked(Election e) {
    Election.Action a = e.tick();
    while (!(a instanceof Election.AskPreVotes)) {
      a = e.tick();
    }
    return ((Election.AskPreVotes) a).term();
  }

  /** Writes, message loss and delay, and crashes, restarts and partitions at random. */
  @Test
  public void aLeaderPausedPastItsLeaseServesNoReadFromItsOwnStateOnceResumed() {
    for (long seed = 1; seed <= 10; seed++) {
      SimulatedCluster c = new SimulatedCluster(N, 3, seed);
      SimulatedCluster.Node old = awaitLeader(c, 200);
      for (int i = 0; i < 20; i++) {
        c.write(old);
        c.step();
      }
      assertTrue("seed " + seed + ": the leader never held its lease", c.leaseReads > 0);
      c.pause(old.index);
      SimulatedCluster.Node next = awaitLeaderAfter(c, old.leaderTerm, 6 * c.maxTimeoutTicks);
      for (int i = 0; i < 10; i++) {
        c.write(next);
        c.step();
      }
      long withoutLease = c.leaderStepsWithoutLease;
      c.resume(old.index); // it still thinks it leads, with acks from before its pause in hand
      c.run(3 * c.maxTimeoutTicks);
      assertEquals("seed " + seed + ": " + c.violations, 0, c.violations.size());
      assertTrue("seed " + seed + ": the resumed leader's lease was never checked",
          c.leaderStepsWithoutLease > withoutLease || !old.leads());
      assertTrue("seed " + seed + ": node" + old.index + " still leads", !old.leads() || old == c.currentLeader());
    }
  }

  @Test
  public void noLeaderServesAReadUnderItsLeaseWhileANewerLeaderExists() {
    for (int w = 1; w <= 5; w++) {
      long leaseReads = 0;
      for (long seed = 1; seed <= 20; seed++) {
        SimulatedCluster c = new SimulatedCluster(N, w, seed * 17 + w);
        Random faults = new Random(seed * 104729 + w);
        c.dropRate = 0.05;
        c.maxDelayTicks = 6;
        for (int step = 0; step < 4000; step++) {
          SimulatedCluster.Node leader = c.currentLeader();
          if (leader != null && faults.nextInt(3) == 0) {
            c.write(leader);
          }
          int roll = faults.nextInt(300);
          int i = faults.nextInt(N);
          SimulatedCluster.Node node = c.nodes.get(i);
          if (roll == 0 && leader != null && !leader.paused) {
            c.pause(leader.index);
          } else if (roll == 1 && node.up && !node.paused) {
            c.pause(i);
          } else if (roll < 8 && node.paused) {
            c.resume(i);
          } else if (roll == 8) {
            c.cut(i, (i + 1 + faults.nextInt(N - 1)) % N);
          } else if (roll == 9) {
            c.crash(i);
          } else if (roll < 12 && !node.up) {
            c.restart(i);
          } else if (roll < 14) {
            c.heal();
          }
          c.step();
        }
        assertEquals("W=" + w + " seed " + seed + ": " + c.violations, 0, c.violations.size());
        leaseReads += c.leaseReads;
        assertTrue("W=" + w + " seed " + seed + ": never without a lease while leading",
            c.leaderStepsWithoutLease > 0);
      }
      // Counted over the 20 runs: at W = 5 a lease needs all five followers, and single runs with
      // under 100 lease reads (one with none) occur in seeds 21-100 with or without the rules of
      // 2026-12-01 (the 80 runs' totals: 25,688 before, 25,825 with them).
      assertTrue("W=" + w + ": " + leaseReads + " reads under a lease in 20 runs", leaseReads > 20 * 100);
    }
  }

  private static SimulatedCluster randomFaults(long seed, int writeQuorum) {
    SimulatedCluster c = new SimulatedCluster(N, writeQuorum, seed);
    Random faults = new Random(seed * 7919);
    c.dropRate = 0.05;
    c.maxDelayTicks = 4;
    for (int step = 0; step < 4000; step++) {
      SimulatedCluster.Node leader = c.currentLeader();
      if (leader != null && faults.nextInt(3) == 0) {
        c.write(leader);
      }
      int roll = faults.nextInt(400);
      if (roll == 0) {
        c.crash(faults.nextInt(N));
      } else if (roll == 1 && leader != null) {
        c.crash(leader.index);
      } else if (roll < 6) {
        int i = faults.nextInt(N);
        if (!c.nodes.get(i).up) {
          c.restart(i);
        }
      } else if (roll == 6) {
        Set<Integer> side = new HashSet<>();
        int size = 1 + faults.nextInt(N / 2);
        while (side.size() < size) {
          side.add(faults.nextInt(N));
        }
        c.partition(side);
      } else if (roll < 9) {
        c.heal();
      }
      c.step();
    }
    // heal everything and let it settle: the invariants hold at the end too
    c.heal();
    for (SimulatedCluster.Node n : c.nodes) {
      if (!n.up) {
        c.restart(n.index);
      }
    }
    c.dropRate = 0;
    c.run(400);
    return c;
  }

  private static SimulatedCluster.Node awaitLeader(SimulatedCluster c, long maxTicks) {
    return awaitLeaderAfter(c, 0, maxTicks);
  }

  private static SimulatedCluster.Node awaitLeaderAfter(SimulatedCluster c, long term, long maxTicks) {
    for (long t = 0; t < maxTicks; t++) {
      c.step();
      SimulatedCluster.Node leader = c.currentLeader();
      if (leader != null && leader.leaderTerm > term) {
        return leader;
      }
    }
    throw new AssertionError("no leader of a term above " + term + " within " + maxTicks + " ticks");
  }
}
