package quorumkv.node;

import java.io.IOException;
import java.nio.file.Path;
import quorumkv.storage.BackupFile;

/**
 * Checks a backup file exactly as a node's restore does, without starting anything:
 * {@code java -cp quorumkv.jar quorumkv.node.BackupCheck FILE}. Prints the header as JSON and
 * exits 0 for a sound backup; prints why and exits 2 otherwise. {@code ./kv restore} runs it
 * before it starts a node.
 */
public final class BackupCheck {
  private BackupCheck() {}

  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: java -cp quorumkv.jar quorumkv.node.BackupCheck FILE");
      System.exit(64);
    }
    try {
      BackupFile.Header h = BackupFile.verify(Path.of(args[0]));
      System.out.printf("{\"index\":%d,\"keys\":%d,\"digest\":\"%s\"}%n", h.index(), h.keys(), h.digest());
    } catch (BackupFile.InvalidBackup e) {
      System.err.println(e.getMessage());
      System.exit(Main.BAD_BACKUP);
    } catch (IOException e) {
      System.err.println("cannot read " + args[0] + ": " + e);
      System.exit(Main.BAD_BACKUP);
    }
  }
}
