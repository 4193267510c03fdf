package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.Test;
import picocli.CommandLine.ParameterException;

public class RecoveryBenchTest {

  @Test
  public void theDocumentedOptionsSetTheReplicaToFill() {
    RecoveryBench bench = parse("--keys", "1000000", "--value-size", "50", "--batch", "500", "--snapshot-every", "20");

    bench.validate();
    assertEquals(1_000_000, bench.keys);
    assertEquals(50, bench.valueSize);
    assertEquals(500, bench.batchSize);
    assertEquals(Integer.valueOf(20), bench.snapshotOverride);
  }

  @Test
  public void withoutOptionsItFillsAHundredThousandKeysAtTheNodesSnapshotInterval() {
    RecoveryBench bench = parse();

    assertEquals(100_000, bench.keys);
    assertEquals(100, bench.valueSize);
    assertEquals(1000, bench.batchSize);
    assertNull(bench.snapshotOverride);
  }

  @Test
  public void sizesThatDescribeNoReplicaAreUsageErrors() {
    assertThrows(ParameterException.class, () -> parse("--keys", "0").validate());
    assertThrows(ParameterException.class, () -> parse("--batch", "0").validate());
    assertThrows(ParameterException.class, () -> parse("--value-size", "-1").validate());
    assertThrows(ParameterException.class, () -> parse("--snapshot-every", "0").validate());
    assertThrows(ParameterException.class, () -> parse("--keys", "1e6"));

    StringWriter err = new StringWriter();
    int status = ToolCommandLine.of(new RecoveryBench()).setErr(new PrintWriter(err)).execute("--keys", "0");
    assertEquals(2, status);
    assertTrue(err.toString(), err.toString().contains("--keys must be at least 1, got 0"));
  }

  private static RecoveryBench parse(String... args) {
    RecoveryBench bench = new RecoveryBench();
    ToolCommandLine.of(bench).parseArgs(args);
    return bench;
  }
}
