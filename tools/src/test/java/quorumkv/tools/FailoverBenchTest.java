package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class FailoverBenchTest {
  private static FailoverBench.Round round(int n, double failover, double stepDown, List<String> lost, String problem) {
    return new FailoverBench.Round(n, 2, failover, stepDown, 11, lost, problem);
  }

  @Test
  public void allIsKillPartitionAndPauseAndBothIsKillAndPartition() {
    assertEquals(List.of(FailoverBench.Mode.KILL, FailoverBench.Mode.PARTITION, FailoverBench.Mode.PAUSE),
        FailoverBench.Mode.ALL.rounds());
    assertEquals(List.of(FailoverBench.Mode.KILL, FailoverBench.Mode.PARTITION), FailoverBench.Mode.BOTH.rounds());
    assertEquals(List.of(FailoverBench.Mode.PAUSE), FailoverBench.Mode.PAUSE.rounds());
  }

  @Test
  public void theMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
    assertEquals(2.5, FailoverBench.median(List.of(4.0, 1.0, 3.0, 2.0)), 1e-9);
    assertEquals(3.0, FailoverBench.median(List.of(5.0, 3.0, 1.0)), 1e-9);
  }

  @Test
  public void theSummaryGivesMedianAndWorstPerModeAndTheStepDownOfAPausedLeader() {
    Map<FailoverBench.Mode, List<FailoverBench.Round>> results = new LinkedHashMap<>();
    results.put(FailoverBench.Mode.KILL, List.of(round(1, 2.0, -1, List.of(), null), round(2, 4.0, -1, List.of(), null),
        round(3, 3.0, -1, List.of(), null)));
    results.put(FailoverBench.Mode.PAUSE, List.of(round(1, 2.5, 0.5, List.of(), null),
        round(2, 3.5, -1, List.of("k = \"v\" acknowledged, now absent"), "did not step down")));
    String summary = FailoverBench.summary(results, 3, 10);
    assertTrue(summary, summary.contains("kill      leader: 3 rounds, median 3.00 s, worst 4.00 s, best 2.00 s"));
    assertTrue(summary, summary.contains("stepped down in 1/2 rounds, median 0.50 s, worst 0.50 s after SIGCONT"));
    assertTrue(summary, summary.contains("acknowledged writes lost: 1 of 22"));
    assertTrue(summary, summary.contains("round 2: did not step down"));
  }
}
