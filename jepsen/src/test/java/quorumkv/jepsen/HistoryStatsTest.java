package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import quorumkv.jepsen.Operation.Outcome;
import quorumkv.jepsen.Operation.Type;

/** A run's summary counts operations by type and outcome, and faults by kind. */
public class HistoryStatsTest {

  @Test
  public void countsOperationsByTypeAndOutcome() {
    HistoryStats stats = HistoryStats.of(List.of(
        op(Type.WRITE, Outcome.OK), op(Type.WRITE, Outcome.OK), op(Type.WRITE, Outcome.INFO),
        op(Type.READ, Outcome.OK), op(Type.READ, Outcome.FAIL)));

    assertEquals(2, stats.count(Type.WRITE, Outcome.OK));
    assertEquals(1, stats.count(Type.WRITE, Outcome.INFO));
    assertEquals(0, stats.count(Type.WRITE, Outcome.FAIL));
    assertEquals(3, stats.count(Type.WRITE));
    assertEquals(2, stats.count(Type.READ));
    assertEquals(5, stats.total());
    assertEquals("5 operations: read 2 (OK 1, FAIL 1, INFO 0), write 3 (OK 2, FAIL 0, INFO 1); faults: none",
        stats.toString());
  }

  @Test
  public void faultsAreAddedByWhoeverInjectedThem() {
    Map<String, Long> faults = new LinkedHashMap<>();
    faults.put("kill", 3L);
    faults.put("partition", 1L);

    HistoryStats stats = HistoryStats.of(List.of(op(Type.READ, Outcome.OK))).withFaults(faults);

    assertEquals(Map.of("kill", 3L, "partition", 1L), stats.faults());
    assertEquals(1, stats.count(Type.READ, Outcome.OK));
    assertEquals("1 operations: read 1 (OK 1, FAIL 0, INFO 0), write 0 (OK 0, FAIL 0, INFO 0); faults: kill 3, partition 1",
        stats.toString());
  }

  private static Operation op(Type type, Outcome outcome) {
    String value = type == Type.WRITE ? "v" : null;
    return new Operation(0, 1, "k", type, value, 0, 1, outcome, null);
  }
}
