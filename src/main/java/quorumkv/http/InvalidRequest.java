package quorumkv.http;

/** Bad client input: answered with 400 and the message, before anything is changed. */
final class InvalidRequest extends RuntimeException {
  InvalidRequest(String message) {
    super(message, null, false, false);
  }
}
