
import django.db.models.deletion
import django_qstash_batch.validation
from django_qstash_batch.compat import check_constraint
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='Topic',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('name', models.CharField(help_text="The URL group's name in QStash: letters, digits, '-', '_', '.'.", max_length=200, unique=True, validators=[django_qstash_batch.validation.validate_name], verbose_name='name')),
                ('description', models.TextField(blank=True, verbose_name='description')),
                ('synced_at', models.DateTimeField(blank=True, editable=False, help_text='When the endpoints were last pushed to QStash.', null=True, verbose_name='synced at')),
                ('sync_error', models.TextField(blank=True, editable=False, verbose_name='sync error')),
            ],
            options={
                'verbose_name': 'topic',
                'verbose_name_plural': 'topics',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Batch',
            fields=[
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('label', models.CharField(blank=True, max_length=255, verbose_name='label')),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('queued', 'Queued'), ('sending', 'Sending'), ('sent', 'Sent'), ('partial', 'Partly sent'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='draft', max_length=16, verbose_name='status')),
                ('idempotency_key', models.CharField(blank=True, help_text='Queuing again with the same key returns the existing batch.', max_length=255, null=True, unique=True, verbose_name='idempotency key')),
                ('attempts', models.PositiveIntegerField(default=0, editable=False, verbose_name='attempts')),
                ('next_attempt_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='next attempt at')),
                ('lease_expires_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='lease expires at')),
                ('queued_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='queued at')),
                ('sent_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='sent at')),
                ('last_error', models.TextField(blank=True, editable=False, verbose_name='last error')),
                ('message_count', models.PositiveIntegerField(default=0, editable=False, verbose_name='messages')),
                ('accepted_count', models.PositiveIntegerField(default=0, editable=False, verbose_name='accepted')),
                ('failed_count', models.PositiveIntegerField(default=0, editable=False, verbose_name='failed')),
            ],
            options={
                'verbose_name': 'batch',
                'verbose_name_plural': 'batches',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='qstash_batch_due_idx'), models.Index(fields=['status', 'lease_expires_at'], name='qstash_batch_lease_idx'), models.Index(fields=['-created_at'], name='qstash_batch_created_idx')],
            },
        ),
        migrations.CreateModel(
            name='Message',
            fields=[
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('position', models.PositiveIntegerField(verbose_name='position')),
                ('url', models.CharField(blank=True, help_text='Send to this URL, or leave empty and choose a topic.', max_length=2000, validators=[django_qstash_batch.validation.validate_http_url], verbose_name='URL')),
                ('queue', models.CharField(blank=True, help_text='Enqueue on this QStash queue instead of publishing.', max_length=200, validators=[django_qstash_batch.validation.validate_name], verbose_name='queue')),
                ('body', models.TextField(blank=True, verbose_name='body')),
                ('content_type', models.CharField(blank=True, max_length=255, validators=[django_qstash_batch.validation.validate_content_type], verbose_name='content type')),
                ('method', models.CharField(choices=[('GET', 'GET'), ('POST', 'POST'), ('PUT', 'PUT'), ('PATCH', 'PATCH'), ('DELETE', 'DELETE')], default='POST', max_length=8, verbose_name='method')),
                ('headers', models.JSONField(blank=True, default=dict, help_text='Headers forwarded to the destination, as a JSON object.', validators=[django_qstash_batch.validation.validate_headers], verbose_name='headers')),
                ('delay', models.PositiveIntegerField(blank=True, null=True, validators=[django_qstash_batch.validation.validate_delay], verbose_name='delay (seconds)')),
                ('not_before', models.DateTimeField(blank=True, null=True, verbose_name='not before')),
                ('retries', models.PositiveIntegerField(blank=True, help_text="Empty: QStash's default (3).", null=True, validators=[django_qstash_batch.validation.validate_retries], verbose_name='retries')),
                ('retry_delay', models.CharField(blank=True, help_text="Milliseconds, or an expression such as 'pow(2, retried) * 1000'.", max_length=255, validators=[django_qstash_batch.validation.validate_retry_delay], verbose_name='retry delay')),
                ('timeout', models.PositiveIntegerField(blank=True, null=True, validators=[django_qstash_batch.validation.validate_timeout], verbose_name='timeout (seconds)')),
                ('callback', models.CharField(blank=True, max_length=2000, validators=[django_qstash_batch.validation.validate_http_url], verbose_name='callback URL')),
                ('failure_callback', models.CharField(blank=True, max_length=2000, validators=[django_qstash_batch.validation.validate_http_url], verbose_name='failure callback URL')),
                ('deduplication_id', models.CharField(blank=True, help_text="Empty: the message's own id, so a resend is never published twice.", max_length=255, validators=[django_qstash_batch.validation.validate_single_line], verbose_name='deduplication id')),
                ('content_based_deduplication', models.BooleanField(default=False, verbose_name='content-based deduplication')),
                ('flow_control_key', models.CharField(blank=True, max_length=255, validators=[django_qstash_batch.validation.validate_single_line], verbose_name='flow-control key')),
                ('flow_control_value', models.CharField(blank=True, help_text="For example 'parallelism=2, rate=10, period=60s'.", max_length=255, validators=[django_qstash_batch.validation.validate_flow_control_value], verbose_name='flow-control value')),
                ('label', models.CharField(blank=True, max_length=255, validators=[django_qstash_batch.validation.validate_single_line], verbose_name='label')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('accepted', 'Accepted'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', editable=False, max_length=16, verbose_name='status')),
                ('error', models.TextField(blank=True, editable=False, verbose_name='error')),
                ('sent_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='sent at')),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='qstash_batch.batch', verbose_name='batch')),
                ('topic', models.ForeignKey(blank=True, help_text='Send to every endpoint of this topic instead of one URL.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='messages', to='qstash_batch.topic', verbose_name='topic')),
            ],
            options={
                'verbose_name': 'message',
                'verbose_name_plural': 'messages',
                'ordering': ['batch', 'position'],
            },
        ),
        migrations.CreateModel(
            name='Endpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('url', models.CharField(max_length=2000, validators=[django_qstash_batch.validation.validate_http_url], verbose_name='URL')),
                ('name', models.CharField(blank=True, help_text='Optional; unique within the topic.', max_length=200, validators=[django_qstash_batch.validation.validate_name], verbose_name='name')),
                ('is_active', models.BooleanField(default=True, help_text='Inactive endpoints are removed from the URL group in QStash.', verbose_name='active')),
                ('topic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='endpoints', to='qstash_batch.topic', verbose_name='topic')),
            ],
            options={
                'verbose_name': 'endpoint',
                'verbose_name_plural': 'endpoints',
                'ordering': ['topic', 'url'],
            },
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                ('qstash_message_id', models.CharField(max_length=255, unique=True, verbose_name='QStash message id')),
                ('url', models.CharField(blank=True, max_length=2000, verbose_name='URL')),
                ('endpoint_name', models.CharField(blank=True, max_length=255, verbose_name='endpoint name')),
                ('deduplicated', models.BooleanField(default=False, help_text='QStash saw this message before and did not publish it again.', verbose_name='deduplicated')),
                ('state', models.CharField(choices=[('created', 'Created'), ('delivered', 'Delivered'), ('retrying', 'Retrying'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='created', max_length=16, verbose_name='state')),
                ('response_status', models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='response status')),
                ('retried', models.PositiveIntegerField(default=0, verbose_name='retried')),
                ('dlq_id', models.CharField(blank=True, max_length=255, verbose_name='DLQ id')),
                ('last_event_at', models.DateTimeField(blank=True, null=True, verbose_name='last event at')),
                ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='qstash_batch.message', verbose_name='message')),
            ],
            options={
                'verbose_name': 'delivery',
                'verbose_name_plural': 'deliveries',
                'ordering': ['message', 'url'],
                'indexes': [models.Index(fields=['state', '-created_at'], name='qstash_batch_state_idx')],
            },
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['batch', 'status', 'position'], name='qstash_batch_message_scan_idx'),
        ),
        migrations.AddConstraint(
            model_name='message',
            constraint=check_constraint(models.Q(models.Q(('url', ''), ('topic__isnull', False)), models.Q(models.Q(('url', ''), _negated=True), ('topic__isnull', True)), _connector='OR'), name='qstash_batch_message_one_destination'),
        ),
        migrations.AddConstraint(
            model_name='message',
            constraint=models.UniqueConstraint(fields=('batch', 'position'), name='qstash_batch_message_position'),
        ),
        migrations.AddConstraint(
            model_name='endpoint',
            constraint=models.UniqueConstraint(fields=('topic', 'url'), name='qstash_batch_endpoint_unique_url'),
        ),
        migrations.AddConstraint(
            model_name='endpoint',
            constraint=models.UniqueConstraint(condition=models.Q(('name', ''), _negated=True), fields=('topic', 'name'), name='qstash_batch_endpoint_unique_name'),
        ),
    ]
