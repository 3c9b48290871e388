package herald

import (
	"sort"
	"strings"
)

// Preset is a starting point for a webhook to a known vendor: the
// authorization type the vendor's API needs, the request's method, URL
// pattern, headers and a payload template for herald's loyalty event
// types, and the fields an administrator must still fill (placeholders in
// CAPITALS). Each preset's shape follows the vendor's public API
// reference at VendorDocsURL; RequiredFields are the body fields that
// reference marks required (the tests check every rendering has them).
type Preset struct {
	Key               string        `json:"key"`
	Name              string        `json:"name"`
	Description       string        `json:"description"`
	VendorDocsURL     string        `json:"vendor_docs_url"`
	AuthorizationType AuthType      `json:"authorization_type"`
	Authorization     PresetAuth    `json:"authorization"`
	Method            string        `json:"method"`
	EndpointURL       string        `json:"endpoint_url"`
	CustomHeaders     []Header      `json:"custom_headers"`
	PayloadType       PayloadType   `json:"payload_type"`
	Payload           string        `json:"payload"`
	EventTypes        []string      `json:"event_types"`
	FieldsToFill      []PresetField `json:"fields_to_fill"`
	RequiredFields    []string      `json:"required_fields"`
}

// PresetAuth is the non-secret part of the authorization a preset needs:
// where it applies and how it is presented. The secret is always the
// administrator's to fill.
type PresetAuth struct {
	Endpoint   string `json:"endpoint"`
	HeaderKey  string `json:"header_key,omitempty"`
	QueryKey   string `json:"query_key,omitempty"`
	Username   string `json:"username,omitempty"`
	TokenURL   string `json:"token_url,omitempty"`
	ClientAuth string `json:"client_auth,omitempty"`
	Secret     string `json:"secret"` // what the secret is, in the vendor's words
}

// PresetField is one thing the administrator must fill: a field (in the
// webhook's or the authorization's field names) and the placeholder in it.
type PresetField struct {
	Field       string `json:"field"`
	Placeholder string `json:"placeholder,omitempty"`
	Description string `json:"description"`
}

// loyaltyEventTypes are the built-in event types about members (every
// one carries a member): what the presets offer.
func loyaltyEventTypes() []string {
	var out []string
	for _, t := range BuiltInEventTypes() {
		if !strings.HasPrefix(t.Key, "herald.") {
			out = append(out, t.Key)
		}
	}
	sort.Strings(out)
	return out
}

// Presets returns every preset, sorted by name. Each call returns fresh
// copies.
func Presets() []*Preset {
	types := loyaltyEventTypes()
	list := []*Preset{
		{
			Key: "bloomreach", Name: "Bloomreach Engagement — track event",
			Description:       "Adds an event to a customer in a Bloomreach Engagement project (Tracking API, add event).",
			VendorDocsURL:     "https://documentation.bloomreach.com/engagement/reference/add-event",
			AuthorizationType: AuthBasic,
			Authorization: PresetAuth{Endpoint: "https://api.exponea.com/track/v2/projects/YOUR_PROJECT_TOKEN", Username: "YOUR_API_KEY_ID",
				Secret: "the API key secret of a private API key with permission to set events"},
			Method: "POST", EndpointURL: "https://api.exponea.com/track/v2/projects/YOUR_PROJECT_TOKEN/customers/events",
			PayloadType: PayloadJSON,
			Payload: `{
  "customer_ids": {"registered": "{{ member.id }}"},
  "event_type": "{{ event.type | replace({'.': '_'}) }}",
  "timestamp": {{ event.created_at | date('U') | raw }},
  "properties": {
    "event_id": "{{ event.id }}",
    "email": "{{ member.email }}",
    "tier": "{{ member.tier }}",
    "points": {{ member.points | default(0) }}
  }
}`,
			FieldsToFill: []PresetField{
				{Field: "endpoint_url", Placeholder: "YOUR_PROJECT_TOKEN", Description: "The project token (Project settings › Access management › API). Your API base URL may differ from api.exponea.com."},
				{Field: "authorization.basic.username", Placeholder: "YOUR_API_KEY_ID", Description: "The API key ID of a private API key."},
				{Field: "authorization.basic.password", Description: "The API key secret."},
			},
			RequiredFields: []string{"customer_ids", "event_type"},
		},
		{
			Key: "klaviyo", Name: "Klaviyo — create event",
			Description:       "Creates an event (a metric) on a profile, which can trigger flows (Events API, Create Event).",
			VendorDocsURL:     "https://developers.klaviyo.com/en/reference/create_event",
			AuthorizationType: AuthHeader,
			Authorization: PresetAuth{Endpoint: "https://a.klaviyo.com/api", HeaderKey: "Authorization",
				Secret: "Klaviyo-API-Key followed by a private API key with the events:write scope"},
			Method: "POST", EndpointURL: "https://a.klaviyo.com/api/events",
			CustomHeaders: []Header{{Name: "revision", Value: "2024-10-15"}, {Name: "Accept", Value: "application/vnd.api+json"},
				{Name: "Content-Type", Value: "application/vnd.api+json"}},
			PayloadType: PayloadJSON,
			Payload: `{
  "data": {
    "type": "event",
    "attributes": {
      "properties": {"event_id": "{{ event.id }}", "tier": "{{ member.tier }}", "points": {{ member.points | default(0) }}},
      "time": "{{ event.created_at }}",
      "unique_id": "{{ event.id }}",
      "metric": {"data": {"type": "metric", "attributes": {"name": "{{ event.type }}"}}},
      "profile": {"data": {"type": "profile", "attributes": {"email": "{{ member.email }}", "external_id": "{{ member.id }}"}}}
    }
  }
}`,
			FieldsToFill: []PresetField{
				{Field: "authorization.header.value", Placeholder: "Klaviyo-API-Key pk_…", Description: "“Klaviyo-API-Key ” followed by your private API key."},
			},
			RequiredFields: []string{"data.type", "data.attributes.properties", "data.attributes.metric.data.type", "data.attributes.metric.data.attributes.name",
				"data.attributes.profile.data.type"},
		},
		{
			Key: "braze", Name: "Braze — track user event",
			Description:       "Records a custom event for a user (POST /users/track).",
			VendorDocsURL:     "https://www.braze.com/docs/api/endpoints/user_data/post_user_track/",
			AuthorizationType: AuthBearer,
			Authorization:     PresetAuth{Endpoint: "https://rest.iad-01.braze.com", Secret: "a REST API key with the users.track permission"},
			Method:            "POST", EndpointURL: "https://rest.iad-01.braze.com/users/track",
			PayloadType: PayloadJSON,
			Payload: `{
  "events": [
    {
      "external_id": "{{ member.id }}",
      "name": "{{ event.type }}",
      "time": "{{ event.created_at }}",
      "properties": {"event_id": "{{ event.id }}", "tier": "{{ member.tier }}", "points": {{ member.points | default(0) }}}
    }
  ]
}`,
			FieldsToFill: []PresetField{
				{Field: "endpoint_url", Placeholder: "rest.iad-01.braze.com", Description: "Your instance's REST endpoint (iad-01, iad-02, fra-01, …); the authorization's endpoint likewise."},
				{Field: "authorization.bearer.token", Description: "The REST API key."},
			},
			RequiredFields: []string{"events.0.external_id", "events.0.name", "events.0.time"},
		},
		{
			Key: "hubspot", Name: "HubSpot — send custom event",
			Description:       "Sends an occurrence of a custom behavioral event for a contact (Events API, send).",
			VendorDocsURL:     "https://developers.hubspot.com/docs/api/analytics/events",
			AuthorizationType: AuthBearer,
			Authorization:     PresetAuth{Endpoint: "https://api.hubapi.com", Secret: "a private app access token with the analytics.behavioral_events.send scope"},
			Method:            "POST", EndpointURL: "https://api.hubapi.com/events/v3/send",
			PayloadType: PayloadJSON,
			Payload: `{
  "eventName": "YOUR_EVENT_NAME",
  "email": "{{ member.email }}",
  "occurredAt": "{{ event.created_at }}",
  "properties": {"herald_event_id": "{{ event.id }}", "herald_event_type": "{{ event.type }}", "tier": "{{ member.tier }}"}
}`,
			FieldsToFill: []PresetField{
				{Field: "payload", Placeholder: "YOUR_EVENT_NAME", Description: "The fully qualified name of the event definition (e.g. pe1234567_member_verified); its properties must exist on the definition."},
				{Field: "authorization.bearer.token", Description: "The private app's access token."},
			},
			RequiredFields: []string{"eventName", "email"},
		},
		{
			Key: "salesforce-marketing-cloud", Name: "Salesforce Marketing Cloud — fire entry event",
			Description:       "Fires a Journey Builder entry event for a contact (Interaction API, POST /interaction/v1/events), with an OAuth 2.0 token from the tenant's auth endpoint.",
			VendorDocsURL:     "https://developer.salesforce.com/docs/atlas.en-us.noversion.mc-apis.meta/mc-apis/postEvent.htm",
			AuthorizationType: AuthOAuth2,
			Authorization: PresetAuth{Endpoint: "https://YOUR_SUBDOMAIN.rest.marketingcloudapis.com", TokenURL: "https://YOUR_SUBDOMAIN.auth.marketingcloudapis.com/v2/token",
				ClientAuth: ClientAuthBody, Secret: "the client secret of a server-to-server installed package"},
			Method: "POST", EndpointURL: "https://YOUR_SUBDOMAIN.rest.marketingcloudapis.com/interaction/v1/events",
			// The reference asks for the charset when the body may hold UTF-8.
			CustomHeaders: []Header{{Name: "Content-Type", Value: "application/json; charset=UTF-8"}},
			PayloadType:   PayloadJSON,
			Payload: `{
  "ContactKey": "{{ member.id }}",
  "EventDefinitionKey": "YOUR_EVENT_DEFINITION_KEY",
  "Data": {
    "EmailAddress": "{{ member.email }}",
    "EventType": "{{ event.type }}",
    "EventId": "{{ event.id }}",
    "Tier": "{{ member.tier }}",
    "Points": {{ member.points | default(0) }}
  }
}`,
			FieldsToFill: []PresetField{
				{Field: "endpoint_url", Placeholder: "YOUR_SUBDOMAIN", Description: "Your tenant's subdomain (Setup › Installed packages › API integration); the same in the authorization's endpoint and token URL."},
				{Field: "payload", Placeholder: "YOUR_EVENT_DEFINITION_KEY", Description: "The event definition key of the journey's API entry source."},
				{Field: "authorization.oauth2.client_id", Description: "The installed package's client ID."},
				{Field: "authorization.oauth2.client_secret", Description: "The installed package's client secret."},
			},
			RequiredFields: []string{"ContactKey", "EventDefinitionKey"},
		},
		{
			Key: "segment", Name: "Segment — track",
			Description:       "Sends a track call to a Segment HTTP API source.",
			VendorDocsURL:     "https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/",
			AuthorizationType: AuthHeader,
			Authorization: PresetAuth{Endpoint: "https://api.segment.io/v1", HeaderKey: "Authorization",
				Secret: "Basic followed by the base64 of the source's write key and a colon (echo -n 'WRITE_KEY:' | base64)"},
			Method: "POST", EndpointURL: "https://api.segment.io/v1/track",
			PayloadType: PayloadJSON,
			Payload: `{
  "userId": "{{ member.id }}",
  "event": "{{ event.type }}",
  "messageId": "{{ event.id }}",
  "timestamp": "{{ event.created_at }}",
  "properties": {"tier": "{{ member.tier }}", "points": {{ member.points | default(0) }}},
  "context": {"traits": {"email": "{{ member.email }}"}}
}`,
			FieldsToFill: []PresetField{
				{Field: "authorization.header.value", Placeholder: "Basic …", Description: "Basic authentication with the write key as the user name and no password: “Basic ” and the base64 of “WRITE_KEY:”. Use https://events.eu1.segmentapis.com for EU workspaces."},
			},
			RequiredFields: []string{"userId", "event"},
		},
		{
			Key: "slack", Name: "Slack — post a message",
			Description:       "Posts a message to a channel with a bot token (Web API, chat.postMessage).",
			VendorDocsURL:     "https://api.slack.com/methods/chat.postMessage",
			AuthorizationType: AuthBearer,
			Authorization:     PresetAuth{Endpoint: "https://slack.com/api", Secret: "a bot token (xoxb-…) with the chat:write scope, the bot invited to the channel"},
			Method:            "POST", EndpointURL: "https://slack.com/api/chat.postMessage",
			// Slack answers a JSON body without a charset with a missing_charset warning.
			CustomHeaders: []Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"}},
			PayloadType:   PayloadJSON,
			Payload: `{
  "channel": "YOUR_CHANNEL_ID",
  "text": "{{ event.type }}: {{ member.email }} ({{ member.tier }}, {{ member.points }} points)",
  "unfurl_links": false
}`,
			FieldsToFill: []PresetField{
				{Field: "payload", Placeholder: "YOUR_CHANNEL_ID", Description: "The channel's ID (C…), from the channel's details."},
				{Field: "authorization.bearer.token", Description: "The bot token."},
			},
			RequiredFields: []string{"channel", "text"},
		},
		{
			Key: "microsoft-teams", Name: "Microsoft Teams — post to a channel (Workflows)",
			Description:       "Posts an Adaptive Card to a channel through a Workflows “When a Teams webhook request is received” flow. The URL's sig parameter is the secret: it goes in a query authorization, not in the URL.",
			VendorDocsURL:     "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook",
			AuthorizationType: AuthQuery,
			Authorization: PresetAuth{Endpoint: "https://YOUR_FLOW_HOST/workflows/YOUR_WORKFLOW_ID", QueryKey: "sig",
				Secret: "the value of the sig parameter of the workflow's URL"},
			Method:      "POST",
			EndpointURL: "https://YOUR_FLOW_HOST/workflows/YOUR_WORKFLOW_ID/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0",
			PayloadType: PayloadJSON,
			Payload: `{
  "type": "message",
  "attachments": [
    {
      "contentType": "application/vnd.microsoft.card.adaptive",
      "contentUrl": null,
      "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
          {"type": "TextBlock", "text": "{{ event.type }}", "weight": "Bolder", "size": "Medium"},
          {"type": "FactSet", "facts": [
            {"title": "Member", "value": "{{ member.email }}"},
            {"title": "Tier", "value": "{{ member.tier }}"},
            {"title": "Points", "value": "{{ member.points }}"}
          ]}
        ]
      }
    }
  ]
}`,
			FieldsToFill: []PresetField{
				{Field: "endpoint_url", Placeholder: "YOUR_FLOW_HOST/workflows/YOUR_WORKFLOW_ID", Description: "The workflow URL Teams shows, without its &sig=… part (host such as prod-12.westeurope.logic.azure.com:443)."},
				{Field: "authorization.query.value", Description: "The value of sig from the workflow URL."},
			},
			RequiredFields: []string{"type", "attachments.0.contentType", "attachments.0.content.type", "attachments.0.content.body"},
		},
		{
			Key: "mailchimp", Name: "Mailchimp — add a list member event",
			Description:       "Adds an event to an audience member, which can start a customer journey (Marketing API, add event).",
			VendorDocsURL:     "https://mailchimp.com/developer/marketing/api/list-member-events/add-event/",
			AuthorizationType: AuthBasic,
			Authorization: PresetAuth{Endpoint: "https://YOUR_DC.api.mailchimp.com/3.0", Username: "herald",
				Secret: "an API key (any user name works; the key is the password)"},
			Method:      "POST",
			EndpointURL: "https://YOUR_DC.api.mailchimp.com/3.0/lists/YOUR_LIST_ID/members/{{ member.email | lower }}/events",
			PayloadType: PayloadJSON,
			Payload: `{
  "name": "{{ event.type | replace({'.': '_'}) }}",
  "occurred_at": "{{ event.created_at }}",
  "properties": {"event_id": "{{ event.id }}", "tier": "{{ member.tier }}", "points": "{{ member.points }}"}
}`,
			FieldsToFill: []PresetField{
				{Field: "endpoint_url", Placeholder: "YOUR_DC, YOUR_LIST_ID", Description: "The data center of your account (the part after the dash in the API key, e.g. us21) and the audience ID (Audience › Settings). The member is addressed by email, which the API accepts in place of its hash."},
				{Field: "authorization.basic.password", Description: "The API key."},
			},
			RequiredFields: []string{"name"},
		},
	}
	for _, p := range list {
		p.EventTypes = append([]string(nil), types...)
		if p.CustomHeaders == nil {
			p.CustomHeaders = []Header{}
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// PresetByKey returns one preset, or ENotFound.
func PresetByKey(key string) (*Preset, error) {
	for _, p := range Presets() {
		if p.Key == key {
			return p, nil
		}
	}
	return nil, &Error{Code: ENotFound, Message: "unknown preset " + key}
}

// WebhookSpec is the webhook the preset starts, for event type event.
func (p *Preset) WebhookSpec(event string) WebhookSpec {
	return WebhookSpec{Name: strings.SplitN(p.Name, " — ", 2)[0] + " — " + event, Event: event, AuthorizationEnabled: true,
		EndpointURL: p.EndpointURL, Method: p.Method, CustomHeaders: append([]Header(nil), p.CustomHeaders...), PayloadType: p.PayloadType, Payload: p.Payload}
}
