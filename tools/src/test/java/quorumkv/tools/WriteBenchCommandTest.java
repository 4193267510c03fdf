package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import org.junit.Test;
import picocli.CommandLine.ParameterException;

public class WriteBenchCommandTest {

  @Test
  public void theDocumentedOptionsSetTheBenchmark() {
    WriteBenchCommand bench = parse("--nodes", "127.0.0.1:9700,http://127.0.0.1:9701/", "--writes", "500",
        "--clients", "4", "--w", "2", "--keys", "10", "--value-size=64", "--timeout-ms", "2500", "--json", "r.json",
        "--quiet");

    WriteBench.Options options = bench.options();

    assertEquals(List.of(URI.create("http://127.0.0.1:9700"), URI.create("http://127.0.0.1:9701")), options.nodes());
    assertEquals(WriteBench.Mode.WRITE, options.mode());
    assertEquals(500, options.requests());
    assertEquals(4, options.clients());
    assertEquals(OptionalInt.of(2), options.writeQuorum());
    assertEquals(10, options.keys());
    assertEquals(64, options.valueSizeBytes());
    assertEquals(Duration.ofMillis(2500), options.requestTimeout());
    assertFalse(options.showProgress());
    assertEquals(Path.of("r.json"), bench.jsonFile);
  }

  @Test
  public void withoutOptionsItWritesToTheLocalClusterAtTheClustersW() {
    WriteBench.Options options = parse().options();

    assertEquals(WriteBench.Options.defaults(), options);
    assertEquals(NodeAddresses.LOCAL.uris(), options.nodes());
    assertEquals(OptionalInt.empty(), options.writeQuorum());
  }

  @Test
  public void aLaterNodesListReplacesTheOneKvPutsFirst() {
    WriteBench.Options options = parse("--nodes", "127.0.0.1:8000", "--nodes", "10.0.0.1:8000", "--mode", "READ",
        "--requests", "7").options();

    assertEquals(List.of(URI.create("http://10.0.0.1:8000")), options.nodes());
    assertEquals(WriteBench.Mode.READ, options.mode());
    assertEquals(7, options.requests());
  }

  @Test
  public void outOfRangeAndMalformedValuesAreUsageErrors() {
    assertUsageError("--writes must be at least 1, got 0", "--writes", "0");
    assertUsageError("--clients must be at least 1, got -2", "--clients", "-2");
    assertUsageError("--w applies to writes only", "--mode", "read", "--w", "2");
    assertUsageError("--timeout-ms must be positive", "--timeout-ms", "0");
    ParameterException notANumber = assertThrows(ParameterException.class, () -> parse("--writes", "lots"));
    assertTrue(notANumber.getMessage(), notANumber.getMessage().contains("'--writes'"));
    assertThrows(ParameterException.class, () -> parse("--mode", "delete"));
    assertThrows(ParameterException.class, () -> parse("--nodes", "ftp://127.0.0.1:21"));
    assertThrows(ParameterException.class, () -> parse("--nodes", ","));
    assertThrows(ParameterException.class, () -> parse("--nodes"));
    assertThrows(ParameterException.class, () -> parse("--frobnicate"));
  }

  @Test
  public void badUsageExitsWithStatusTwoAfterTheMessageAndTheUsage() {
    StringWriter err = new StringWriter();

    int status = ToolCommandLine.of(new WriteBenchCommand()).setErr(new PrintWriter(err)).execute("--clients", "0");

    assertEquals(2, status);
    assertTrue(err.toString(), err.toString().startsWith("--clients must be at least 1, got 0"));
    assertTrue(err.toString(), err.toString().contains("Usage: ./kv bench"));
  }

  @Test
  public void helpListsEveryOptionAndExitsZero() {
    StringWriter out = new StringWriter();

    int status = ToolCommandLine.of(new WriteBenchCommand()).setOut(new PrintWriter(out)).execute("--help");

    assertEquals(0, status);
    for (String option : List.of("--nodes", "--writes", "--clients", "--w", "--keys", "--value-size",
        "--timeout-ms", "--mode", "--json", "--quiet", "--help", "--version")) {
      assertTrue(option + " in\n" + out, out.toString().contains(option));
    }
  }

  private static void assertUsageError(String message, String... args) {
    WriteBenchCommand bench = parse(args);
    ParameterException error = assertThrows(ParameterException.class, bench::options);
    assertTrue(error.getMessage(), error.getMessage().startsWith(message));
  }

  private static WriteBenchCommand parse(String... args) {
    WriteBenchCommand bench = new WriteBenchCommand();
    ToolCommandLine.of(bench).parseArgs(args);
    return bench;
  }
}
