package quorumkv.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import quorumkv.storage.WriteCommand;

/**
 * Reads the body of {@code POST /txn} into a {@link WriteCommand.Txn}, or throws
 * {@link InvalidRequest} (400) or {@link TooLarge} (413) saying what is wrong, before anything is
 * logged. Strict: an unknown field is refused rather than ignored, so a typo cannot turn a
 * condition into no condition.
 */
final class TxnRequest {
  /** Compares plus ops in one transaction, at most. */
  static final int MAX_COMPARES_AND_OPS = 128;
  /** The body, at most: one log entry must fit in a replication message. */
  static final int MAX_BODY_BYTES = 1024 * 1024;

  private static final Set<String> TOP_FIELDS = Set.of("compare", "success", "failure");
  private static final Set<String> COMPARE_TARGETS = Set.of("version", "value", "exists");

  /** The body is too large: 413. */
  static final class TooLarge extends RuntimeException {
    TooLarge(String message) {
      super(message, null, false, false);
    }
  }

  private final RequestLimits limits;

  TxnRequest(RequestLimits limits) {
    this.limits = limits;
  }

  void checkSize(String body) {
    int bytes = body.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_BODY_BYTES) {
      throw new TooLarge("transaction body is " + bytes + " bytes; the limit is " + MAX_BODY_BYTES);
    }
  }

  WriteCommand.Txn parse(JsonNode body) {
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (!TOP_FIELDS.contains(field)) {
        throw new InvalidRequest("unknown field '" + field + "' in the transaction; it has 'compare', 'success' and "
            + "'failure'");
      }
    }
    List<WriteCommand.Compare> compares = new ArrayList<>();
    for (JsonNode c : array(body, "compare")) {
      compares.add(compare(c, compares.size()));
    }
    List<WriteCommand.TxnOp> success = ops(body, "success");
    List<WriteCommand.TxnOp> failure = ops(body, "failure");
    int total = compares.size() + success.size() + failure.size();
    if (total > MAX_COMPARES_AND_OPS) {
      throw new TooLarge("the transaction has " + total + " compares and ops; at most " + MAX_COMPARES_AND_OPS
          + " are allowed");
    }
    if (success.isEmpty() && failure.isEmpty() && compares.isEmpty()) {
      throw new InvalidRequest("the transaction is empty: give 'compare' and 'success' and/or 'failure' ops");
    }
    return new WriteCommand.Txn(List.copyOf(compares), List.copyOf(success), List.copyOf(failure));
  }

  private static List<JsonNode> array(JsonNode body, String field) {
    JsonNode a = body.get(field);
    if (a == null || a.isNull()) {
      return List.of();
    }
    if (!a.isArray()) {
      throw new InvalidRequest("'" + field + "' must be an array");
    }
    if (a.size() > MAX_COMPARES_AND_OPS) {
      throw new TooLarge("'" + field + "' has " + a.size() + " entries; a transaction has at most "
          + MAX_COMPARES_AND_OPS + " compares and ops");
    }
    List<JsonNode> out = new ArrayList<>(a.size());
    a.forEach(out::add);
    return out;
  }

  private WriteCommand.Compare compare(JsonNode c, int i) {
    String where = "compare[" + i + "]";
    if (!c.isObject()) {
      throw new InvalidRequest(where + " must be an object like {\"key\": \"k\", \"version\": 3}");
    }
    String key = key(c, where);
    String target = null;
    for (Iterator<String> it = c.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (field.equals("key")) {
        continue;
      }
      if (!COMPARE_TARGETS.contains(field)) {
        throw new InvalidRequest("unknown field '" + field + "' in " + where + "; a compare has 'key' and one of "
            + "'version', 'value' or 'exists'");
      }
      if (target != null) {
        throw new InvalidRequest(where + " compares both '" + target + "' and '" + field + "'; give exactly one");
      }
      target = field;
    }
    if (target == null) {
      throw new InvalidRequest(where + " needs one of 'version', 'value' or 'exists'");
    }
    JsonNode v = c.get(target);
    switch (target) {
      case "version" -> {
        if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
          throw new InvalidRequest(where + ".version must be an integer >= 0 (0: the key is absent)");
        }
        return WriteCommand.Compare.version(key, v.asLong());
      }
      case "value" -> {
        if (!v.isTextual()) {
          throw new InvalidRequest(where + ".value must be a string");
        }
        return WriteCommand.Compare.value(key, limits.value(v.asText()));
      }
      default -> {
        if (!v.isBoolean()) {
          throw new InvalidRequest(where + ".exists must be true or false");
        }
        return WriteCommand.Compare.exists(key, v.asBoolean());
      }
    }
  }

  private List<WriteCommand.TxnOp> ops(JsonNode body, String branch) {
    List<WriteCommand.TxnOp> out = new ArrayList<>();
    for (JsonNode o : array(body, branch)) {
      out.add(op(o, branch + "[" + out.size() + "]"));
    }
    return out;
  }

  private WriteCommand.TxnOp op(JsonNode o, String where) {
    if (!o.isObject()) {
      throw new InvalidRequest(where + " must be an object like {\"op\": \"put\", \"key\": \"k\", \"value\": \"v\"}");
    }
    JsonNode op = o.get("op");
    if (op == null || !op.isTextual()) {
      throw new InvalidRequest(where + " needs 'op': \"put\", \"delete\" or \"get\"");
    }
    if (!Set.of("put", "delete", "get").contains(op.asText())) {
      throw new InvalidRequest("unknown op '" + op.asText() + "' in " + where
          + "; ops are \"put\", \"delete\" and \"get\"");
    }
    String key = key(o, where);
    Set<String> allowed = op.asText().equals("put") ? Set.of("op", "key", "value", "ttl") : Set.of("op", "key");
    for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
      String field = it.next();
      if (!allowed.contains(field)) {
        throw new InvalidRequest("unexpected field '" + field + "' in " + where + " (" + op.asText() + " takes "
            + allowed + ")");
      }
    }
    return switch (op.asText()) {
      case "put" -> {
        JsonNode v = o.get("value");
        if (v == null || !v.isTextual()) {
          throw new InvalidRequest(where + ": a put needs a string 'value'");
        }
        yield WriteCommand.TxnOp.put(key, limits.value(v.asText()), ttl(o.get("ttl"), where));
      }
      case "delete" -> WriteCommand.TxnOp.delete(key);
      default -> WriteCommand.TxnOp.get(key);
    };
  }

  /** A put's {@code ttl}: a duration string ("30s") or whole seconds as a number; 0 when absent. */
  private long ttl(JsonNode ttl, String where) {
    if (ttl == null) {
      return 0;
    }
    if (ttl.isTextual()) {
      return limits.ttlMillis(ttl.asText(), where + ".ttl");
    }
    if (ttl.isIntegralNumber() && ttl.canConvertToLong()) {
      return limits.ttlMillis(Long.toString(ttl.asLong()), where + ".ttl");
    }
    throw new InvalidRequest(where + ".ttl must be a duration such as \"30s\" (from 1s to 30d) or whole seconds; "
        + "nothing was written");
  }

  private String key(JsonNode o, String where) {
    JsonNode k = o.get("key");
    if (k == null || !k.isTextual()) {
      throw new InvalidRequest(where + " needs a string 'key'");
    }
    try {
      return limits.key(k.asText());
    } catch (InvalidRequest e) {
      throw new InvalidRequest(where + ": " + e.getMessage());
    }
  }
}
