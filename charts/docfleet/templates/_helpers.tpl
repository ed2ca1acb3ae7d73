{{/* Names and labels. */}}
{{- define "docfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "docfleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "docfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "docfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "docfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "docfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: docfleet
{{- end }}

{{- define "docfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "docfleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The worker's name: the Deployment, ScaledObject, ScaledJob and TriggerAuthentication. */}}
{{- define "docfleet.workerName" -}}
{{- printf "%s-worker" (include "docfleet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Images: the CPU one, and the variant the workers run. */}}
{{- define "docfleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "docfleet.workerImage" -}}
{{- if eq .Values.worker.variant "gpu" }}
{{- $repo := default .Values.image.repository .Values.worker.gpu.image.repository }}
{{- $tag := default (printf "%s%s" (default .Chart.AppVersion .Values.image.tag) .Values.image.cudaTagSuffix) .Values.worker.gpu.image.tag }}
{{- printf "%s:%s" $repo $tag }}
{{- else }}
{{- include "docfleet.image" . }}
{{- end }}
{{- end }}

{{/* The worker variant's settings (worker.cpu or worker.gpu). */}}
{{- define "docfleet.variant" -}}
{{- if eq .Values.worker.variant "gpu" }}{{ toYaml .Values.worker.gpu }}{{ else }}{{ toYaml .Values.worker.cpu }}{{ end }}
{{- end }}

{{/* Jobs per replica: keda.jobsPerReplica, else the variant's concurrency. */}}
{{- define "docfleet.jobsPerReplica" -}}
{{- $v := include "docfleet.variant" . | fromYaml }}
{{- if eq .Values.worker.scaling "scaledJob" }}
{{- default .Values.keda.scaledJob.concurrency .Values.keda.jobsPerReplica }}
{{- else }}
{{- default $v.concurrency .Values.keda.jobsPerReplica }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds of a worker pod, from the drain timeout: after SIGTERM the worker
waits up to the drain timeout for its jobs, then up to 10 s for the rest to be given back, then
up to the drain timeout again for webhooks under way; 20 s more covers closing connections.
The preStop pause runs before SIGTERM and counts too.
*/}}
{{- define "docfleet.workerGraceSeconds" -}}
{{- add .Values.worker.preStopSleepSeconds (mul 2 .Values.worker.drainTimeoutSecs) 30 }}
{{- end }}

{{/* A secret reference: name (default secrets.defaultName) and key. */}}
{{- define "docfleet.secretRef" -}}
{{- $ref := index . 0 }}{{ $root := index . 1 -}}
secretKeyRef:
  name: {{ default $root.Values.secrets.defaultName $ref.name }}
  key: {{ $ref.key }}
{{- end }}

{{/* Environment shared by the API, the workers and the init job. */}}
{{- define "docfleet.env" -}}
{{- $q := .Values.queue -}}
- name: DOCFLEET_DATA_DIR
  value: /var/lib/docfleet
- name: DOCFLEET_LOG_FORMAT
  value: json
- name: DOCFLEET_LOG
  value: {{ .Values.log.level | quote }}
{{- with .Values.tracing }}
{{- if .otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- with .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with .headers }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  value: {{ . | quote }}
{{- end }}
{{- $attrs := printf "k8s.namespace.name=%s" $.Release.Namespace }}
{{- if .resourceAttributes }}{{ $attrs = printf "%s,%s" $attrs .resourceAttributes }}{{ end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ $attrs | quote }}
{{- end }}
{{- end }}
- name: DOCFLEET_JOB_STORE_URL
  valueFrom:
    {{- include "docfleet.secretRef" (list .Values.secrets.databaseUrl .) | nindent 4 }}
- name: DOCFLEET_MAX_ATTEMPTS
  value: {{ $q.maxAttempts | int64 | quote }}
- name: DOCFLEET_QUEUE
  value: {{ $q.kind }}
- name: DOCFLEET_QUEUE_NAME
  value: {{ $q.name | quote }}
{{- if eq $q.kind "rabbitmq" }}
- name: DOCFLEET_AMQP_URL
  valueFrom:
    {{- include "docfleet.secretRef" (list .Values.secrets.amqpUrl .) | nindent 4 }}
- name: DOCFLEET_DELIVERY_LIMIT
  value: {{ $q.rabbitmq.deliveryLimit | int64 | quote }}
- name: DOCFLEET_RABBITMQ_CONSUMER_TIMEOUT_SECS
  value: {{ $q.rabbitmq.consumerTimeoutSecs | int64 | quote }}
{{- else if eq $q.kind "sqs" }}
{{- with $q.sqs.endpointUrl }}
- name: DOCFLEET_SQS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: DOCFLEET_SQS_MAX_RECEIVE_COUNT
  value: {{ $q.sqs.maxReceiveCount | int64 | quote }}
{{- else if eq $q.kind "kafka" }}
- name: DOCFLEET_KAFKA_BOOTSTRAP_SERVERS
  value: {{ $q.kafka.bootstrapServers | quote }}
- name: DOCFLEET_KAFKA_GROUP_ID
  value: {{ $q.kafka.groupId | quote }}
- name: DOCFLEET_KAFKA_PARTITIONS
  value: {{ $q.kafka.partitions | int64 | quote }}
- name: DOCFLEET_KAFKA_REPLICATION_FACTOR
  value: {{ $q.kafka.replicationFactor | int64 | quote }}
- name: DOCFLEET_KAFKA_SESSION_TIMEOUT_MS
  value: {{ $q.kafka.sessionTimeoutMs | int64 | quote }}
{{- if .Values.secrets.kafkaProperties.key }}
- name: DOCFLEET_KAFKA_PROPERTIES
  valueFrom:
    {{- include "docfleet.secretRef" (list .Values.secrets.kafkaProperties .) | nindent 4 }}
{{- end }}
{{- end }}
- name: DOCFLEET_AWS_REGION
  value: {{ .Values.aws.region | quote }}
{{- with .Values.secrets.awsCredentials }}
{{- if and .accessKeyIdKey .secretAccessKeyKey }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    {{- include "docfleet.secretRef" (list (dict "name" .name "key" .accessKeyIdKey) $) | nindent 4 }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    {{- include "docfleet.secretRef" (list (dict "name" .name "key" .secretAccessKeyKey) $) | nindent 4 }}
{{- end }}
{{- end }}
- name: DOCFLEET_OBJECT_STORE_URL
  value: {{ .Values.objectStore.url | quote }}
{{- with .Values.objectStore.endpointUrl }}
- name: DOCFLEET_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- if .Values.objectStore.forcePathStyle }}
- name: DOCFLEET_S3_FORCE_PATH_STYLE
  value: "true"
{{- end }}
- name: DOCFLEET_QDRANT_URL
  value: {{ .Values.qdrant.url | quote }}
- name: DOCFLEET_QDRANT_COLLECTION
  value: {{ .Values.qdrant.collection | quote }}
- name: DOCFLEET_QDRANT_TENANCY
  value: {{ .Values.qdrant.tenancy | quote }}
{{- if .Values.secrets.qdrantApiKey.key }}
- name: DOCFLEET_QDRANT_API_KEY
  valueFrom:
    {{- include "docfleet.secretRef" (list .Values.secrets.qdrantApiKey .) | nindent 4 }}
{{- end }}
- name: DOCFLEET_MODEL_DIR
  value: {{ .Values.model.dir | quote }}
{{- with .Values.model.extra }}
- name: DOCFLEET_MODELS
  value: {{ include "docfleet.modelList" . | quote }}
{{- end }}
- name: DOCFLEET_MODEL_MEMORY_BUDGET_BYTES
  value: {{ .Values.model.memoryBudgetBytes | int64 | quote }}
- name: DOCFLEET_EMBED_PRECISION
  value: {{ .Values.model.embedPrecision | quote }}
- name: DOCFLEET_PROFILE_TTL_SECS
  value: {{ .Values.profiles.ttlSecs | int64 | quote }}
{{- end }}

{{/* `name=folder,…` of model.extra, for DOCFLEET_MODELS. */}}
{{- define "docfleet.modelList" -}}
{{- $pairs := list -}}
{{- range $name, $dir := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $name $dir) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end }}

{{/* Volumes every pod mounts: scratch for the read-only root, and the model volume if any. */}}
{{- define "docfleet.volumes" -}}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.scratch.sizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratch.sizeLimit }}
{{- with .Values.model.volume }}
- name: model
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "docfleet.volumeMounts" -}}
- name: data
  mountPath: /var/lib/docfleet
- name: tmp
  mountPath: /tmp
{{- if .Values.model.volume }}
- name: model
  mountPath: {{ .Values.model.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
The worker pod spec, shared by the Deployment and the ScaledJob. `exitWhenIdle` makes it a batch
pod (ScaledJob): it exits 0 once nothing is queued or running.
*/}}
{{- define "docfleet.workerPodSpec" -}}
{{- $root := .root -}}
{{- $v := include "docfleet.variant" $root | fromYaml -}}
{{- $gpu := eq $root.Values.worker.variant "gpu" -}}
serviceAccountName: {{ include "docfleet.serviceAccountName" $root }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if and $gpu $root.Values.worker.gpu.runtimeClassName }}
runtimeClassName: {{ $root.Values.worker.gpu.runtimeClassName }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ include "docfleet.workerGraceSeconds" $root }}
{{- if .exitWhenIdle }}
restartPolicy: Never
{{- end }}
containers:
  - name: worker
    image: {{ include "docfleet.workerImage" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: ["worker"{{ if .exitWhenIdle }}, "--exit-when-idle"{{ end }}]
    env:
      {{- include "docfleet.env" $root | nindent 6 }}
      - name: DOCFLEET_DEVICE
        value: {{ if $gpu }}{{ $root.Values.worker.gpu.device | quote }}{{ else }}"cpu"{{ end }}
      - name: DOCFLEET_CONCURRENCY
        value: {{ if .exitWhenIdle }}{{ $root.Values.keda.scaledJob.concurrency | int64 | quote }}{{ else }}{{ $v.concurrency | int64 | quote }}{{ end }}
      - name: DOCFLEET_CHUNK_MAX_TOKENS
        value: {{ $root.Values.pipeline.chunkMaxTokens | int64 | quote }}
      - name: DOCFLEET_CHUNK_OVERLAP_TOKENS
        value: {{ $root.Values.pipeline.chunkOverlapTokens | int64 | quote }}
      - name: DOCFLEET_MAX_FILE_BYTES
        value: {{ $root.Values.pipeline.maxFileBytes | int64 | quote }}
      - name: DOCFLEET_MAX_PAGES
        value: {{ $root.Values.pipeline.maxPages | int64 | quote }}
      - name: DOCFLEET_EMBED_BATCH_TOKENS
        value: {{ $root.Values.pipeline.embedBatchTokens | int64 | quote }}
      - name: DOCFLEET_EXTRACT_PROCESSES
        value: {{ $root.Values.pipeline.extractProcesses | int64 | quote }}
      - name: DOCFLEET_EXTRACT_TIMEOUT_SECS
        value: {{ $root.Values.pipeline.extractTimeoutSecs | int64 | quote }}
      - name: DOCFLEET_OCR
        value: {{ $root.Values.pipeline.ocr.mode | quote }}
      - name: DOCFLEET_OCR_LANGUAGES
        value: {{ $root.Values.pipeline.ocr.languages | quote }}
      - name: DOCFLEET_OCR_DPI
        value: {{ $root.Values.pipeline.ocr.dpi | int64 | quote }}
      - name: DOCFLEET_OCR_MAX_PIXELS
        value: {{ $root.Values.pipeline.ocr.maxPixels | int64 | quote }}
      - name: DOCFLEET_OCR_PAGE_TIMEOUT_SECS
        value: {{ $root.Values.pipeline.ocr.pageTimeoutSecs | int64 | quote }}
      - name: DOCFLEET_OCR_MAX_PAGES
        value: {{ $root.Values.pipeline.ocr.maxPages | int64 | quote }}
      - name: DOCFLEET_LEASE_SECS
        value: {{ $root.Values.worker.leaseSecs | int64 | quote }}
      - name: DOCFLEET_DRAIN_TIMEOUT_SECS
        value: {{ $root.Values.worker.drainTimeoutSecs | int64 | quote }}
      - name: DOCFLEET_OPS_ADDR
        value: {{ printf "0.0.0.0:%v" $root.Values.worker.opsPort | quote }}
      {{- if $root.Values.secrets.webhookSecret.key }}
      - name: DOCFLEET_WEBHOOK_SECRET
        valueFrom:
          {{- include "docfleet.secretRef" (list $root.Values.secrets.webhookSecret $root) | nindent 10 }}
      {{- end }}
      {{- with $root.Values.worker.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    ports:
      - name: ops
        containerPort: {{ $root.Values.worker.opsPort }}
    startupProbe:
      httpGet: {path: /healthz, port: ops}
      periodSeconds: 5
      failureThreshold: 60
    livenessProbe:
      httpGet: {path: /healthz, port: ops}
      periodSeconds: 20
      timeoutSeconds: 5
      failureThreshold: 3
    readinessProbe:
      httpGet: {path: /readyz, port: ops}
      periodSeconds: 10
      timeoutSeconds: 5
    {{- if gt (int $root.Values.worker.preStopSleepSeconds) 0 }}
    lifecycle:
      preStop:
        exec:
          command: ["sleep", {{ $root.Values.worker.preStopSleepSeconds | int64 | quote }}]
    {{- end }}
    resources:
      {{- toYaml $v.resources | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    volumeMounts:
      {{- include "docfleet.volumeMounts" $root | nindent 6 }}
volumes:
  {{- include "docfleet.volumes" $root | nindent 2 }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* KEDA: the TriggerAuthentication's name for the queue kind, empty when none is needed. */}}
{{- define "docfleet.triggerAuthName" -}}
{{- $k := .Values.queue.kind }}
{{- if or (eq $k "rabbitmq") (eq $k "sqs") (and (eq $k "kafka") .Values.keda.kafka.authentication.enabled) }}
{{- printf "%s-%s" (include "docfleet.workerName" .) $k }}
{{- end }}
{{- end }}

{{/* KEDA triggers for the queue kind; the same for the ScaledObject and the ScaledJob. */}}
{{- define "docfleet.triggers" -}}
{{- $q := .Values.queue -}}
{{- $per := include "docfleet.jobsPerReplica" . | int64 | quote -}}
{{- $act := .Values.keda.activationJobs | int64 | quote -}}
{{- $auth := include "docfleet.triggerAuthName" . -}}
{{- if eq $q.kind "rabbitmq" }}
- type: rabbitmq
  metadata:
    protocol: {{ .Values.keda.rabbitmq.protocol }}
    queueName: {{ $q.name | quote }}
    mode: QueueLength
    value: {{ $per }}
    activationValue: {{ $act }}
  authenticationRef:
    name: {{ $auth }}
{{- else if eq $q.kind "sqs" }}
{{- $url := required "queue.sqs.queueUrl is required with queue.kind=sqs (KEDA reads the queue by URL)" $q.sqs.queueUrl }}
{{- if not (hasSuffix (printf "/%s" $q.name) $url) }}
{{- fail (printf "queue.sqs.queueUrl %s does not name queue.name %s" $url $q.name) }}
{{- end }}
- type: aws-sqs-queue
  metadata:
    queueURL: {{ $url | quote }}
    awsRegion: {{ .Values.aws.region | quote }}
    {{- with $q.sqs.endpointUrl }}
    awsEndpoint: {{ . | quote }}
    {{- end }}
    # Visible and in-flight messages: jobs waiting and jobs being processed.
    scaleOnInFlight: "true"
    queueLength: {{ $per }}
    activationQueueLength: {{ $act }}
  authenticationRef:
    name: {{ $auth }}
{{- else if eq $q.kind "kafka" }}
{{- /* Two triggers: a retry that is not due yet is held by a worker, uncommitted, as lag on
<name>.retry; counting it keeps a worker alive for it (KEDA scales on the larger of the two). */}}
{{- range $topic := list $q.name (printf "%s.retry" $q.name) }}
- type: kafka
  metadata:
    bootstrapServers: {{ $q.kafka.bootstrapServers | quote }}
    consumerGroup: {{ $q.kafka.groupId | quote }}
    topic: {{ $topic | quote }}
    lagThreshold: {{ $per }}
    activationLagThreshold: {{ $act }}
    offsetResetPolicy: earliest
  {{- with $auth }}
  authenticationRef:
    name: {{ . }}
  {{- end }}
{{- end }}
{{- end }}
{{- end }}
