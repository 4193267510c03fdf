package quorumkv.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The environment variables a node reads: every {@code ${?NAME}} override in the
 * {@code application.conf} its jar carries, and the variables every JVM reads. The harness takes
 * them from the jar, so it never restates the node's settings or their defaults: a node started
 * here gets none of them from the inherited environment, only the ones the harness or its caller
 * sets.
 */
public final class NodeSettings {
  /** Read by the JVM itself, before the node's code runs. */
  static final Set<String> JVM_VARIABLES = Set.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS");
  private static final Pattern OVERRIDE = Pattern.compile("\\$\\{\\?([A-Za-z_][A-Za-z0-9_]*)}");

  private final Set<String> names;

  private NodeSettings(Set<String> names) {
    this.names = Set.copyOf(names);
  }

  /** The settings of the node in {@code jar}, from the {@code application.conf} at its root. */
  public static NodeSettings of(Path jar) {
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      ZipEntry conf = zip.getEntry("application.conf");
      if (conf == null) {
        throw new IllegalStateException(jar + " holds no application.conf: is it the node's jar?");
      }
      try (InputStream in = zip.getInputStream(conf)) {
        return fromConfig(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not read application.conf from " + jar, e);
    }
  }

  /** The settings a HOCON text lets the environment override, plus the JVM's variables. */
  static NodeSettings fromConfig(String applicationConf) {
    Set<String> found = new TreeSet<>(JVM_VARIABLES);
    Matcher m = OVERRIDE.matcher(applicationConf);
    while (m.find()) {
      found.add(m.group(1));
    }
    return new NodeSettings(found);
  }

  /** Every variable a node reads, sorted. */
  public Set<String> names() {
    return new TreeSet<>(names);
  }

  /** Fails unless every key of {@code settings} is a variable the node reads (a typo would be silently ignored). */
  public void check(Map<String, String> settings) {
    Set<String> unknown = new TreeSet<>(settings.keySet());
    unknown.removeAll(names);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("the node reads no setting " + unknown + "; it reads " + names());
    }
  }

  /** Removes every node variable from {@code environment} (a process's inherited one), then puts {@code settings}. */
  public void apply(Map<String, String> environment, Map<String, String> settings) {
    check(settings);
    environment.keySet().removeAll(names);
    environment.putAll(settings);
  }
}
