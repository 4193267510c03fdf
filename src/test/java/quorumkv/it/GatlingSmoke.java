package quorumkv.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import quorumkv.harness.NodeLogs;

/**
 * One run of {@code loadtest/smoke.sh}, the Gatling simulations for a few seconds each, as a
 * subprocess against running nodes. It uses the Maven that runs this build ({@code $MVN} if set,
 * else {@code <maven.home>/bin/mvn}, else {@code mvn} on the PATH) with the same local
 * repository, and writes everything it prints to one log file. A run that outlives its
 * timeout, or whose test is interrupted, is killed with all its child processes (Maven and the
 * JVM Gatling forks).
 */
final class GatlingSmoke {
  /**
   * The repository's root, where loadtest/ is: the nearest directory up from the working one
   * that holds loadtest/smoke.sh (failsafe runs in the node module's directory, src/).
   */
  static final Path REPOSITORY = repositoryRoot();
  private static final Path LOADTEST = REPOSITORY.resolve("loadtest");
  /** Where loadtest's pom has Gatling write its HTML reports, one {@code <simulation>-<timestamp>} folder per run. */
  private static final Path REPORTS = LOADTEST.resolve(Path.of("target", "gatling"));

  private final List<String> simulations;
  private final int users;
  private final int seconds;
  private final Path log;
  private Set<Path> reportsBefore = Set.of();

  GatlingSmoke(List<String> simulations, int users, int seconds, Path log) {
    this.simulations = List.copyOf(simulations);
    this.users = users;
    this.seconds = seconds;
    this.log = log;
  }

  Path log() {
    return log;
  }

  /**
   * Runs {@code smoke.sh} against {@code nodeUrls} with {@code options} (e.g. {@code -Dkeys=10})
   * given to every mvn call, and returns its exit code; fails if it is still running after
   * {@code timeout}.
   */
  int run(List<String> nodeUrls, Duration timeout, String... options) throws IOException, InterruptedException {
    Files.createDirectories(log.toAbsolutePath().getParent());
    reportsBefore = reportFolders();
    List<String> command = new ArrayList<>(List.of(
        "bash", LOADTEST.resolve("smoke.sh").toString(), String.join(",", nodeUrls), "-q"));
    String repoLocal = System.getProperty("quorumkv.it.mavenRepoLocal", "");
    if (!repoLocal.isBlank() && !repoLocal.startsWith("${")) {
      command.add("-Dmaven.repo.local=" + repoLocal);
    }
    command.addAll(List.of(options));

    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("NODES");
    pb.environment().put("SIMULATIONS", String.join(" ", simulations));
    pb.environment().put("USERS", String.valueOf(users));
    pb.environment().put("DURATION", String.valueOf(seconds));
    Path mvn = Path.of(System.getProperty("maven.home", ""), "bin", "mvn");
    if (!pb.environment().containsKey("MVN") && Files.isExecutable(mvn)) {
      pb.environment().put("MVN", mvn.toString());
    }
    Files.writeString(log, "GatlingSmoke: " + String.join(" ", command) + "\n");
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));

    Process smoke = pb.start();
    try {
      if (!smoke.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        destroyWithChildren(smoke);
        throw new AssertionError("loadtest/smoke.sh still running after " + timeout.toSeconds()
            + " s, killed; its output (" + log.toAbsolutePath() + "):\n" + logTail(60));
      }
      return smoke.exitValue();
    } finally {
      destroyWithChildren(smoke);
    }
  }

  /** The HTML report this run left for {@code simulation}: a new report folder with an index.html. */
  Optional<Path> newReport(String simulation) {
    String prefix = simulation.toLowerCase(Locale.ROOT) + "-";
    return reportFolders().stream()
        .filter(p -> !reportsBefore.contains(p))
        .filter(p -> p.getFileName().toString().startsWith(prefix))
        .filter(p -> Files.isRegularFile(p.resolve("index.html")))
        .findFirst();
  }

  Path reportsDir() {
    return REPORTS;
  }

  String logTail(int lines) {
    return NodeLogs.lastLines(log, lines);
  }

  private static Path repositoryRoot() {
    Path start = Path.of("").toAbsolutePath();
    for (Path dir = start; dir != null; dir = dir.getParent()) {
      if (Files.isRegularFile(dir.resolve(Path.of("loadtest", "smoke.sh")))) {
        return dir;
      }
    }
    throw new IllegalStateException("no loadtest/smoke.sh in " + start + " or a directory above it");
  }

  private static Set<Path> reportFolders() {
    if (!Files.isDirectory(REPORTS)) {
      return Set.of();
    }
    try (Stream<Path> s = Files.list(REPORTS)) {
      return s.filter(Files::isDirectory).collect(Collectors.toSet());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Lists the children first, kills the script (so it starts no more), then kills them. */
  private static void destroyWithChildren(Process process) {
    List<ProcessHandle> children = process.descendants().toList();
    process.destroyForcibly();
    children.forEach(ProcessHandle::destroyForcibly);
  }
}
