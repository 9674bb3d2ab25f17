"""``alertflow serve``'s HTTP side: webhook intake, REST and GraphQL over the store, the console."""
