// Curfew on Azure: one resource group holds the bot's identity, the Azure Bot with its Teams channel,
// an App Service for Linux running Curfew's container, PostgreSQL, logs and the config file share.
// Curfew's custom role is assigned on every workspace it manages (workspace-role.bicep).
//
//   az deployment group create -g rg-curfew -f infra/main.bicep -p @infra/main.parameters.json \
//     -p postgresAdminPassword="$PGPASSWORD"
//
// See docs/deploy.md for the whole walk-through. Compute choice: App Service, not Container Apps, because
// Curfew runs its scheduler inside the service and must never scale to zero (App Service's Always On),
// because App Service has a built-in health check on /healthz and an Azure Files mount for the config
// file, and because it is the host the Azure Bot documentation describes.

targetScope = 'resourceGroup'

@description('Azure region for everything but the bot (the bot is global).')
param location string = resourceGroup().location

@description('Lowercase letters and digits, 3 to 10 characters: the start of every resource name.')
@minLength(3)
@maxLength(10)
param namePrefix string = 'curfew'

@description('An existing Azure Container Registry in this resource group that holds Curfew\'s image.')
param containerRegistryName string

@description('The image in that registry, repository:tag, e.g. curfew:1.0.0 (az acr build --image ...).')
param containerImage string = 'curfew:latest'

@description('App Service plan size; B1 is enough for a few hundred instances.')
@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'P0v3'
  'P1v3'
])
param appServiceSku string = 'B1'

@description('Replicas of Curfew. More than one needs PostgreSQL (deployed here); the run ledger keeps every scheduled run exactly-once.')
@minValue(1)
@maxValue(10)
param instanceCount int = 1

@description('Azure Bot pricing tier. Teams is a standard channel: F0 has no message limit for it.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('PostgreSQL administrator login (password authentication).')
param postgresAdminLogin string = 'curfewadmin'

@description('PostgreSQL administrator password. It also ends up in the DATABASE_URL app setting.')
@secure()
param postgresAdminPassword string

@description('PostgreSQL compute size.')
param postgresSkuName string = 'Standard_B1ms'

@description('PostgreSQL compute tier matching postgresSkuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresTier string = 'Burstable'

@description('Curfew\'s custom role: the GUID, or the full role definition id, from `az role definition create --role-definition infra/role-curfew.json`.')
param curfewRoleDefinitionId string

@description('Resource ids of the Azure ML workspaces Curfew manages: /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{name}.')
param workspaceResourceIds array = []

@description('Days Log Analytics keeps Curfew\'s logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var suffix = uniqueString(resourceGroup().id)
var databaseName = 'curfew'
var configMountPath = '/mnt/curfew'
var acrPullRoleGuid = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // built-in AcrPull
var curfewRoleGuid = last(split(curfewRoleDefinitionId, '/'))

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-identity'
  location: location
}

// -- logs --------------------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    IngestionMode: 'LogAnalytics'
  }
}

// -- database ----------------------------------------------------------------------------------

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: '${namePrefix}-pg-${suffix}'
  location: location
  sku: {
    name: postgresSkuName
    tier: postgresTier
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: 32
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Lets Azure services (the App Service) connect; TLS and the password still apply. For a private
// network, use VNet integration and a delegated subnet instead (not part of this template).
resource postgresFromAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

// -- the config file: an Azure Files share mounted into the container ---------------------------

resource configStorage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: take('${toLower(namePrefix)}cfg${suffix}', 24)
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
  }
}

resource configFiles 'Microsoft.Storage/storageAccounts/fileServices@2023-01-01' = {
  parent: configStorage
  name: 'default'
}

resource configShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-01-01' = {
  parent: configFiles
  name: 'curfew-config'
  properties: {
    shareQuota: 1
  }
}

// -- the service -------------------------------------------------------------------------------

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: containerRegistryName
}

resource identityPullsImages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPullRoleGuid)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleGuid)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-01-01' = {
  name: '${namePrefix}-plan'
  location: location
  kind: 'linux'
  sku: {
    name: appServiceSku
    capacity: instanceCount
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-01-01' = {
  name: '${namePrefix}-${suffix}'
  location: location
  kind: 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'DOCKER|${registry.properties.loginServer}/${containerImage}'
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identity.properties.clientId
      alwaysOn: true
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      azureStorageAccounts: {
        'curfew-config': {
          type: 'AzureFiles'
          accountName: configStorage.name
          shareName: configShare.name
          mountPath: configMountPath
          accessKey: configStorage.listKeys().keys[0].value
        }
      }
      appSettings: [
        {
          name: 'WEBSITES_PORT'
          value: '3978'
        }
        {
          name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE'
          value: 'false'
        }
        {
          name: 'MicrosoftAppId'
          value: identity.properties.clientId
        }
        {
          name: 'MicrosoftAppType'
          value: 'UserAssignedMSI'
        }
        {
          name: 'MicrosoftAppTenantId'
          value: identity.properties.tenantId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'DATABASE_URL'
          value: 'postgresql+psycopg://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
        }
        {
          name: 'CURFEW_CONFIG'
          value: '${configMountPath}/curfew.yaml'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          name: 'LOG_FORMAT'
          value: 'json'
        }
      ]
    }
  }
  dependsOn: [
    identityPullsImages
    database
    postgresFromAzure
  ]
}

resource siteLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'curfew-logs'
  scope: site
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
  }
}

// -- the bot -----------------------------------------------------------------------------------

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${namePrefix}-bot-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: botSku
  }
  properties: {
    displayName: 'Curfew'
    description: 'Stops forgotten Azure ML compute instances at night; warns their owners first.'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: identity.properties.clientId
    msaAppType: 'UserAssignedMSI'
    msaAppMSIResourceId: identity.id
    msaAppTenantId: identity.properties.tenantId
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: false
    }
  }
}

// -- Curfew's role on each workspace -----------------------------------------------------------

module workspaceRoles 'workspace-role.bicep' = [
  for workspaceId in workspaceResourceIds: {
    name: take('curfew-role-${uniqueString(workspaceId, resourceGroup().id)}', 64)
    scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
    params: {
      workspaceName: last(split(workspaceId, '/'))
      principalId: identity.properties.principalId
      roleDefinitionGuid: curfewRoleGuid
    }
  }
]

@description('The bot\'s Microsoft App ID: pass it to `python app.py manifest --app-id`.')
output botAppId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output webAppName string = site.name
output messagingEndpoint string = 'https://${site.properties.defaultHostName}/api/messages'
output botName string = bot.name
output postgresHost string = postgres.properties.fullyQualifiedDomainName
output configStorageAccount string = configStorage.name
output configShareName string = configShare.name
