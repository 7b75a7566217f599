# csp-desk image: one image for the API (node dist/bin/api.js), the Temporal worker (node dist/bin/worker.js)
# and the demo data seeder (node dist/bin/seed.js); docker-compose.yml picks the command.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, compile TypeScript to dist/ -----------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development
COPY package.json package-lock.json ./
# Install scripts stay off (package.json "allowScripts": the Temporal native bridge and @swc/core ship prebuilt
# binaries as packages, they need no script). The optional `node` package's script, which fetches a Node 24 binary
# for the npm scripts of a checkout, is left off on purpose: the image's own Node (NODE_IMAGE) runs.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# --- runtime: production dependencies, dist/ and templates/ ---------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY templates ./templates
# the seeder writes the demo tokens (0600) under DATA_DIR (/app/data): a directory the node user owns
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# Stop gracefully: the worker drains its activities and the API closes its connections on SIGTERM.
STOPSIGNAL SIGTERM
CMD ["node", "dist/bin/api.js"]
