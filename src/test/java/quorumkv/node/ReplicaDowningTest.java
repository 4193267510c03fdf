package quorumkv.node;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.Test;

public class ReplicaDowningTest {
  private static final int NODES = 6;

  @Test
  public void aStrictMajorityOfTheNodesMayDownAndAnEvenSplitMayNot() {
    assertTrue(ReplicaDowning.majority(4, 0, NODES));
    assertTrue(ReplicaDowning.majority(6, 0, NODES));
    assertFalse("an even split downs nobody", ReplicaDowning.majority(3, 0, NODES));
    assertFalse(ReplicaDowning.majority(2, 0, NODES));
  }

  @Test
  public void restartedNodesWaitingToBeLetInCountTowardsTheMajority() {
    // The leader and two followers crashed, one of them restarted: three members and the returning one.
    assertTrue(ReplicaDowning.majority(3, 1, NODES));
    // Four crashed, two restarted: the two survivors and the two returning ones.
    assertTrue(ReplicaDowning.majority(2, 2, NODES));
    assertFalse(ReplicaDowning.majority(2, 1, NODES));
  }

  @Test
  public void aReturningNodeCountsOnlyWhereEveryMemberThatAnsweredItIsReached() {
    Set<String> reached = Set.of("n3", "n4", "n5");
    assertEquals(1, ReplicaDowning.countReturning(reached, List.of(Set.of("n3", "n5"))));
    assertEquals("answered by a member this side does not reach: it may be counted over there",
        0, ReplicaDowning.countReturning(reached, List.of(Set.of("n3", "n1"))));
    assertEquals("answered by nobody yet", 0, ReplicaDowning.countReturning(reached, List.of(Set.of())));
    assertEquals(2, ReplicaDowning.countReturning(reached, List.of(Set.of("n4"), Set.of("n3", "n4", "n5"))));
  }

  @Test
  public void twoSidesOfAPartitionNeverBothCountAMajority() {
    // Random splits of six nodes into two sides of members and returning nodes, each returning
    // node answered by some members of either or both sides: at most one side counts a majority.
    Random random = new Random(42);
    for (int round = 0; round < 10_000; round++) {
      Set<Integer> sideA = new HashSet<>();
      Set<Integer> sideB = new HashSet<>();
      List<Set<Integer>> heardBys = new ArrayList<>();
      List<Integer> returning = new ArrayList<>();
      for (int n = 0; n < NODES; n++) {
        switch (random.nextInt(4)) {
          case 0 -> sideA.add(n);
          case 1 -> sideB.add(n);
          case 2 -> returning.add(n);
          default -> { } // dead
        }
      }
      Set<Integer> members = new HashSet<>(sideA);
      members.addAll(sideB);
      for (int r : returning) {
        Set<Integer> heardBy = new HashSet<>();
        for (int m : members) {
          if (random.nextBoolean()) {
            heardBy.add(m);
          }
        }
        heardBys.add(heardBy);
      }
      boolean a = ReplicaDowning.majority(sideA.size(), ReplicaDowning.countReturning(sideA, heardBys), NODES);
      boolean b = ReplicaDowning.majority(sideB.size(), ReplicaDowning.countReturning(sideB, heardBys), NODES);
      assertFalse("sides " + sideA + " and " + sideB + ", returning nodes answered by " + heardBys, a && b);
    }
  }

  @Test
  public void theSeedsComeFromTheSettingsInTheirOrder() {
    List<akka.actor.Address> seeds =
        ReplicaDowning.seedAddresses("quorumkv", List.of("node0:2550", "127.0.0.1:2551"));
    assertEquals(2, seeds.size());
    assertEquals(new akka.actor.Address("akka", "quorumkv", "node0", 2550), seeds.get(0));
    assertEquals(new akka.actor.Address("akka", "quorumkv", "127.0.0.1", 2551), seeds.get(1));
  }
}
