package quorumkv.jepsen;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.Test;
import picocli.CommandLine;

public class NemesisRunCommandLineTest {
  private static NemesisRun.Options parse(String... args) {
    NemesisRun.CommandLineOptions cli = new NemesisRun.CommandLineOptions();
    new CommandLine(cli).parseArgs(args);
    return cli.options();
  }

  @Test
  public void withoutOptionsTheDefaultsHoldAndWComesFromTheCluster() {
    NemesisRun.Options o = NemesisRun.Options.defaults();
    assertEquals(Duration.ofSeconds(60), o.faultTime());
    assertEquals(Path.of("target", "quorumkv.jar"), o.jar());
    assertEquals(6, o.clients());
    assertEquals(5, o.keys());
    assertEquals("linearizable", o.readConsistency());
    assertNull(o.writeQuorum());
    assertTrue(o.out().toString(), o.out().getFileName().toString().startsWith("nemesis-"));
  }

  @Test
  public void everyOptionSetsItsField() {
    NemesisRun.Options o = parse("--seconds", "30", "--jar", "/tmp/q.jar", "--clients", "3", "--keys", "2",
        "--out", "/tmp/out", "--seed", "42", "--read-consistency", "leader", "--write-quorum", "2");
    assertEquals(new NemesisRun.Options(Duration.ofSeconds(30), Path.of("/tmp/q.jar"), 3, 2, Path.of("/tmp/out"), 42,
        "leader", 2), o);
  }

  @Test
  public void minutesMayBeFractional() {
    assertEquals(Duration.ofSeconds(90), parse("--minutes", "1.5").faultTime());
  }

  @Test
  public void minutesAndSecondsExcludeEachOther() {
    assertEquals(2, new CommandLine(new NemesisRun.CommandLineOptions()).execute("--minutes", "1", "--seconds", "5"));
  }

  @Test
  public void aWrongCommandLineExits2AndHelpExits0() {
    assertEquals(2, new CommandLine(new NemesisRun.CommandLineOptions()).execute("--clients", "0"));
    assertEquals(2, new CommandLine(new NemesisRun.CommandLineOptions()).execute("--no-such-option"));
    assertEquals(0, new CommandLine(new NemesisRun.CommandLineOptions()).execute("--help"));
  }
}
