package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import org.junit.Test;

/** How faults are counted in the report, and that a node process exiting on its own fails a run. */
public class NemesisFaultsTest {
  private static NemesisRun.Fault fault(String kind, List<String> nodes, String leaderBefore) {
    return new NemesisRun.Fault(kind, nodes, false, leaderBefore, 1.0, 2.0, "");
  }

  @Test
  public void aKillOfSeveralNodesCountsAsWithTheLeaderWhenTheLeaderIsAmongThem() {
    assertEquals("kill-many-with-leader", fault("kill-many", List.of("node1", "node4"), "node4").countKey());
    assertEquals("kill-many", fault("kill-many", List.of("node1", "node2", "node3"), "node4").countKey());
  }

  @Test
  public void theLongPauseOfTheLeaderIsItsOwnKind() {
    assertEquals("pause-leader-long", fault("pause-leader-long", List.of("node2"), "node2").countKey());
    assertEquals("pause-leader", fault("pause", List.of("node2"), "node2").countKey());
    assertEquals("kill", fault("kill", List.of("node2"), "node3").countKey());
  }

  @Test
  public void everyCountKeyIsAKnownKind() {
    for (String kind : List.of("kill", "kill-many", "pause", "pause-leader-long", "partition")) {
      for (String leader : List.of("node0", "node5")) {
        String key = fault(kind, List.of("node0", "node1"), leader).countKey();
        assertTrue(key, NemesisRun.FAULT_KINDS.contains(key));
      }
    }
  }

  @Test
  public void aNodeProcessThatExitedOnItsOwnIsAnAnomaly() {
    NemesisRun.SelfExit exit = new NemesisRun.SelfExit("node3", 12.5, 1, "after the pause of node3", "");
    assertTrue(exit.toString(), exit.toString().contains("node3 exited (code 1)"));
    assertTrue(exit.toString(), exit.toString().contains("not restarted"));
  }
}
