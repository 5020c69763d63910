"""WalletDesk: omnichannel customer service for digital-wallet companies."""
