# rwsplit: read/write-splitting proxy for MySQL and MariaDB.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY package.json config.example.yaml ./
USER node
# 6033: MySQL clients; 6070: admin (health, readiness, /backends, /metrics).
EXPOSE 6033 6070
ENTRYPOINT ["node", "bin/rwsplit.js"]
CMD ["serve", "--config", "/etc/rwsplit/config.yaml"]
