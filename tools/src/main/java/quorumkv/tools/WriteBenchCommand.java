package quorumkv.tools;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./kv bench}, the command line of {@link WriteBench}: one closed-loop run, its report on
 * stdout and, with {@code --json}, its result as one line of JSON.
 *
 * <p>Usage: {@code java -cp tools/target/quorumkv-tools.jar quorumkv.tools.WriteBench [options]}
 */
@Command(name = "./kv bench", mixinStandardHelpOptions = true, versionProvider = ToolCommandLine.Version.class,
    sortOptions = false, usageHelpAutoWidth = true,
    description = {"Closed-loop load generator for PUT /kv/{key} (or GET with --mode read), round-robin over the nodes.",
        "Class: quorumkv.tools.WriteBench in tools/target/quorumkv-tools.jar."},
    footer = "Exits 0 when at least one request succeeded, 1 when none did, 2 on bad options.")
final class WriteBenchCommand implements Callable<Integer> {

  @Mixin
  LoadOptions load;

  @Option(names = "--mode", paramLabel = "write|read",
      description = "write: PUT /kv/{key} (default); read: GET /kv/{key}, where 404 also counts as success.")
  WriteBench.Mode mode = WriteBench.Mode.WRITE;

  @Option(names = "--w", paramLabel = "W",
      description = "Write quorum for each write, sent as ?w=W (default: the cluster's, writeQuorum in its /status).")
  Integer writeQuorum;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the result to FILE as one line of JSON.")
  Path jsonFile;

  /** The benchmark's options, or a usage error. */
  WriteBench.Options options() {
    return load.toOptions(mode, writeQuorum == null ? OptionalInt.empty() : OptionalInt.of(writeQuorum));
  }

  @Override
  public Integer call() {
    WriteBench.Result result = WriteBench.run(options());
    System.out.print(result.report());
    if (jsonFile != null) {
      try {
        Files.writeString(jsonFile, new ObjectMapper().writeValueAsString(result.jsonFields()) + "\n");
      } catch (IOException e) {
        System.err.println("bench: cannot write " + jsonFile + ": " + e.getMessage());
        return 1;
      }
    }
    return result.successes() > 0 ? 0 : 1;
  }
}
