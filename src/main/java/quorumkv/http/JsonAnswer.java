package quorumkv.http;

import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.StatusCode;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * An answer of this API: {@code body} rendered as JSON into a strict entity. No marshaller per
 * request and no content negotiation: every answer is JSON, whatever the client's {@code Accept}.
 */
final class JsonAnswer {
  private JsonAnswer() {}

  static HttpResponse of(ObjectMapper mapper, StatusCode status, Object body) {
    byte[] rendered;
    try {
      rendered = mapper.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("answer not renderable as JSON: " + e.getOriginalMessage(), e);
    }
    return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, rendered));
  }
}
