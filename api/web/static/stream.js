// The user's stream over Mastodon's streaming WebSocket: `update`, `status.update`, `delete` and
// `notification` events, the token sent as the Sec-WebSocket-Protocol (never in a URL). It reconnects with
// a growing pause after a drop; `onState(true)` fires once subscribed, so the app can fill the gap it missed.

export class UserStream {
  constructor(streamingBase, token, handlers) {
    this.url = `${streamingBase.replace(/\/$/, "")}/api/v1/streaming?stream=user`;
    this.token = token;
    this.handlers = handlers;
    this.pause = 1000;
    this.closed = false;
    this.socket = null;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.url, [this.token]);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.pause = 1000;
      this.handlers.onState?.(true);
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!frame.event) return;
      let payload = frame.payload;
      if (frame.event !== "delete" && typeof payload === "string") {
        try {
          payload = JSON.parse(payload);
        } catch {
          return;
        }
      }
      this.handlers.onEvent?.(frame.event, payload);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.handlers.onState?.(false);
      if (this.closed || event.code === 1008) return; // 1008: the token was refused; signing in again helps
      setTimeout(() => this.connect(), this.pause);
      this.pause = Math.min(this.pause * 2, 30000);
    });
  }

  close() {
    this.closed = true;
    this.socket?.close(1000);
  }
}
