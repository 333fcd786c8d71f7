"""Developer tools: building and quantising the bundled model, reading footage. The edge never imports these."""
