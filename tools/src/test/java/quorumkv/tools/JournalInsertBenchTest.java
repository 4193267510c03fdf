package quorumkv.tools;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.Test;
import picocli.CommandLine;
import quorumkv.harness.FileTrees;

public class JournalInsertBenchTest {

  @Test
  public void timesEveryReplicasWritesAndLeavesNoFilesBehind() throws Exception {
    Path dir = Files.createTempDirectory("journal-insert-bench-test");
    PrintStream stdout = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      int exit = new CommandLine(new JournalInsertBench())
          .execute("--replicas", "2", "--writes", "20", "--payload-bytes", "64", "--dir", dir.toString());
      assertEquals(0, exit);
    } finally {
      System.setOut(stdout);
    }
    String report = out.toString(StandardCharsets.UTF_8);
    assertTrue(report, report.contains("2 replica file(s) written at once, 20 writes each of a 64-byte event"));
    assertTrue(report, report.contains("replica 0: mean "));
    assertTrue(report, report.contains("replica 1: mean "));
    assertTrue(report, report.contains("all:       mean "));
    try (Stream<Path> left = Files.list(dir)) {
      assertEquals("the replica files are removed", 0, left.count());
    }
    FileTrees.delete(dir);
  }

  @Test
  public void badOptionsAreRefused() {
    assertEquals(2, new CommandLine(new JournalInsertBench()).execute("--replicas", "0"));
  }
}
