"""The exchange plane: BingX USDT-M perpetual REST and WebSocket clients, exchange metadata,
quantization and the cost model, and the venue simulator that speaks BingX's protocol."""
